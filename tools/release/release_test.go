package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A small repository of three modules, shaped like ours: a library a, a
// library b that requires a, and a command cmd/c that requires both and
// has no replace lines.
var fixture = map[string]string{
	"versions.yaml": `module-prefix: example.com/r
released:
  a: v0.1.0
  b: v0.1.0
  cmd/c: v0.1.0
unreleased:
  - t
`,
	"go.work":       "go 1.26.0\n\nuse (\n\t./a\n\t./b\n\t./cmd/c\n\t./t\n)\n",
	"a/go.mod":      "module example.com/r/a\n\ngo 1.26.0\n",
	"a/a.go":        "// Package a is a fixture.\npackage a\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n\n// Value is a value.\nfunc Value() int { return 1 }\n",
	"a/a_test.go":   "package a\n\nimport \"testing\"\n\nfunc TestValue(t *testing.T) {\n\tif Value() != 1 {\n\t\tt.Fatal(Value())\n\t}\n}\n",
	"b/go.mod":      "module example.com/r/b\n\ngo 1.26.0\n\nrequire example.com/r/a v0.1.0\n\nreplace example.com/r/a => ../a\n",
	"b/b.go":        "// Package b is a fixture.\npackage b\n\nimport \"example.com/r/a\"\n\n// Twice doubles a's value.\nfunc Twice() int { return 2 * a.Value() }\n",
	"b/b_test.go":   "package b\n\nimport \"testing\"\n\nfunc TestTwice(t *testing.T) {\n\tif Twice() != 2 {\n\t\tt.Fatal(Twice())\n\t}\n}\n",
	"cmd/c/go.mod":  "module example.com/r/cmd/c\n\ngo 1.26.0\n\nrequire (\n\texample.com/r/a v0.1.0\n\texample.com/r/b v0.1.0\n)\n",
	"cmd/c/main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/r/a\"\n\t\"example.com/r/b\"\n)\n\nfunc main() { fmt.Println(a.Hello(), b.Twice()) }\n",
	"t/go.mod":      "module example.com/r/t\n\ngo 1.26.0\n\nrequire example.com/r/a v0.1.0\n\nreplace example.com/r/a => ../a\n",
	"t/t.go":        "package t\n\nimport _ \"example.com/r/a\"\n",
}

// newRepo writes the fixture into a new git repository with one commit.
func newRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, fixture)
	mustGit(t, root, "init", "-q", "-b", "main")
	mustGit(t, root, "config", "user.email", "test@example.com")
	mustGit(t, root, "config", "user.name", "test")
	mustGit(t, root, "config", "tag.gpgSign", "false")
	commit(t, root, "fixture")
	return root
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustGit(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := git(root, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func commit(t *testing.T, root, msg string) {
	t.Helper()
	mustGit(t, root, "add", "-A")
	mustGit(t, root, "commit", "-q", "-m", msg)
}

func manifest(t *testing.T, root string) *Manifest {
	t.Helper()
	m, err := loadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tags lists the repository's tags.
func tags(t *testing.T, root string) string {
	t.Helper()
	return strings.Join(strings.Fields(mustGit(t, root, "tag", "--list")), " ")
}

// release runs `release tag` and returns its output and error.
func release(t *testing.T, root string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runTag(root, manifest(t, root), &out)
	return out.String(), err
}

// setVersions rewrites versions.yaml with new versions and bumps every
// go.mod to them.
func setVersions(t *testing.T, root string, versions map[string]string) {
	t.Helper()
	p := filepath.Join(root, manifestFile)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for dir, v := range versions {
		old := manifest(t, root).Released[dir]
		s = strings.Replace(s, "  "+dir+": "+old+"\n", "  "+dir+": "+v+"\n", 1)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bump(root, manifest(t, root)); err != nil {
		t.Fatal(err)
	}
}

func wantRefusal(t *testing.T, root string, want ...string) {
	t.Helper()
	before := tags(t, root)
	out, err := release(t, root)
	if err == nil {
		t.Fatalf("release succeeded, want a refusal naming %q; output:\n%s", want, out)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q does not say %q", err, w)
		}
	}
	if after := tags(t, root); after != before {
		t.Errorf("a refused release changed the tags: %q -> %q", before, after)
	}
}

func TestVerifyFixture(t *testing.T) {
	root := newRepo(t)
	if errs := verify(root, manifest(t, root)); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestVerifyFindsEachProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"placeholder version", map[string]string{
			"b/go.mod": "module example.com/r/b\n\ngo 1.26.0\n\nrequire example.com/r/a v0.0.0-00010101000000-000000000000\n\nreplace example.com/r/a => ../a\n",
		}, "b/go.mod: requires a v0.0.0-00010101000000-000000000000, but versions.yaml says v0.1.0"},
		{"replace in a command", map[string]string{
			"cmd/c/go.mod": fixture["cmd/c/go.mod"] + "\nreplace example.com/r/a => ../../a\n",
		}, "go install …@version refuses a module with replace lines"},
		{"module missing from the manifest", map[string]string{
			"d/go.mod": "module example.com/r/d\n\ngo 1.26.0\n",
		}, "module in d/ is not in versions.yaml"},
		{"go lines differ", map[string]string{
			"a/go.mod": "module example.com/r/a\n\ngo 1.24\n",
		}, "go lines differ between modules"},
		{"sibling without its replace", map[string]string{
			"b/go.mod": "module example.com/r/b\n\ngo 1.26.0\n\nrequire example.com/r/a v0.1.0\n",
		}, "b/go.mod: requires a but has no replace line"},
		{"replace of a third-party module", map[string]string{
			"a/go.mod": "module example.com/r/a\n\ngo 1.26.0\n\nreplace example.org/x => ../x\n",
		}, "users of a never see that replacement"},
		{"released module needs an unreleased one", map[string]string{
			"a/go.mod": "module example.com/r/a\n\ngo 1.26.0\n\nrequire example.com/r/t v0.1.0\n\nreplace example.com/r/t => ../t\n",
		}, "released module a requires t, which is never released"},
		{"direct and indirect requires mixed", map[string]string{
			"b/go.mod": "module example.com/r/b\n\ngo 1.26.0\n\nrequire (\n\texample.com/r/a v0.1.0\n\texample.org/y v1.0.0 // indirect\n)\n\nreplace example.com/r/a => ../a\n",
		}, "require blocks are mixed"},
		{"two replace blocks", map[string]string{
			"b/go.mod": "module example.com/r/b\n\ngo 1.26.0\n\nrequire example.com/r/a v0.1.0\n\nreplace example.com/r/a => ../a\n\nreplace example.com/r/a v0.0.1 => ../a\n",
		}, "2 replace blocks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRepo(t)
			write(t, root, tc.files)
			errs := verify(root, manifest(t, root))
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("verify found %q, want a problem saying %q", all, tc.want)
			}
		})
	}
}

func TestBumpWritesManifestVersions(t *testing.T) {
	root := newRepo(t)
	setVersions(t, root, map[string]string{"a": "v0.2.0"})
	if errs := verify(root, manifest(t, root)); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, f := range []string{"b/go.mod", "cmd/c/go.mod", "t/go.mod"} {
		data, _ := os.ReadFile(filepath.Join(root, f))
		if !strings.Contains(string(data), "example.com/r/a v0.2.0") {
			t.Errorf("%s after bump:\n%s", f, data)
		}
	}
}

func TestTagFirstReleaseThenNothingToDo(t *testing.T) {
	root := newRepo(t)
	out, err := release(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tags(t, root), "a/v0.1.0 b/v0.1.0 cmd/c/v0.1.0"; got != want {
		t.Fatalf("tags %q, want %q; output:\n%s", got, want, out)
	}
	for _, tag := range []string{"a/v0.1.0", "b/v0.1.0", "cmd/c/v0.1.0"} {
		if kind := mustGit(t, root, "cat-file", "-t", tag); kind != "tag" {
			t.Errorf("%s is a %s, want an annotated tag", tag, kind)
		}
	}
	// Again, at the same commit and at a later one that leaves every
	// module alone: nothing to create, nothing refused.
	if out, err := release(t, root); err != nil || !strings.Contains(out, "exists at HEAD already") {
		t.Fatalf("second release: %v\n%s", err, out)
	}
	write(t, root, map[string]string{"README": "docs only\n"})
	commit(t, root, "docs")
	if out, err := release(t, root); err != nil || !strings.Contains(out, "is unchanged since; skipped") {
		t.Fatalf("release after a docs change: %v\n%s", err, out)
	}
}

func TestTagRefusesDirtyTree(t *testing.T) {
	root := newRepo(t)
	write(t, root, map[string]string{"a/new.go": "package a\n"})
	wantRefusal(t, root, "the tree is dirty", "a/new.go")
}

func TestTagRefusesRequireDisagreeingWithManifest(t *testing.T) {
	root := newRepo(t)
	write(t, root, map[string]string{
		"b/go.mod": "module example.com/r/b\n\ngo 1.26.0\n\nrequire example.com/r/a v0.0.9\n\nreplace example.com/r/a => ../a\n",
	})
	commit(t, root, "b requires an old a")
	wantRefusal(t, root, "disagree with versions.yaml", "requires a v0.0.9, but versions.yaml says v0.1.0")
}

func TestTagRefusesChangeWithoutBump(t *testing.T) {
	root := newRepo(t)
	if _, err := release(t, root); err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{"a/extra.go": "package a\n\n// Extra is new.\nfunc Extra() {}\n"})
	commit(t, root, "a grows")
	wantRefusal(t, root, "a: changed since its release a/v0.1.0", "without a version bump")

	// Bumping a changes the go.mod of b and c, which then need their own
	// bump; with all three raised, the release goes through.
	setVersions(t, root, map[string]string{"a": "v0.1.1"})
	commit(t, root, "a v0.1.1")
	wantRefusal(t, root, "b: changed since its release b/v0.1.0", "cmd/c: changed since its release cmd/c/v0.1.0")
	setVersions(t, root, map[string]string{"b": "v0.1.1", "cmd/c": "v0.1.1"})
	commit(t, root, "b, c v0.1.1")
	out, err := release(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "a/v0.1.1: created") || !strings.Contains(out, "0 incompatible, 1 compatible API changes") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTagRefusesTagAtAnotherCommit(t *testing.T) {
	root := newRepo(t)
	// Someone tagged a/v0.1.0 on a side branch.
	mustGit(t, root, "checkout", "-q", "-b", "side")
	write(t, root, map[string]string{"a/side.go": "package a\n"})
	commit(t, root, "side")
	mustGit(t, root, "tag", "-a", "a/v0.1.0", "-m", "side")
	mustGit(t, root, "checkout", "-q", "main")
	wantRefusal(t, root, "tag a/v0.1.0 already exists at", "not in HEAD's history")
}

func TestTagRefusesVersionGoingDown(t *testing.T) {
	root := newRepo(t)
	setVersions(t, root, map[string]string{"a": "v0.2.0", "b": "v0.2.0", "cmd/c": "v0.2.0"})
	commit(t, root, "v0.2.0")
	if _, err := release(t, root); err != nil {
		t.Fatal(err)
	}
	setVersions(t, root, map[string]string{"a": "v0.1.5"})
	commit(t, root, "a goes down")
	wantRefusal(t, root, "a: versions.yaml says v0.1.5, below its last release a/v0.2.0")
}

func TestTagRefusesIncompatibleAPIWithoutMinorBump(t *testing.T) {
	root := newRepo(t)
	if _, err := release(t, root); err != nil {
		t.Fatal(err)
	}
	// Hello is removed: an incompatible change.
	write(t, root, map[string]string{
		"a/a.go":        "// Package a is a fixture.\npackage a\n\n// Value is a value.\nfunc Value() int { return 1 }\n",
		"cmd/c/main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/r/b\"\n)\n\nfunc main() { fmt.Println(b.Twice()) }\n",
	})
	setVersions(t, root, map[string]string{"a": "v0.1.1", "b": "v0.1.1", "cmd/c": "v0.1.1"})
	commit(t, root, "a drops Hello, patch bump")
	wantRefusal(t, root, "a: incompatible API changes since a/v0.1.0 need a new minor version", "Hello: removed")

	var out bytes.Buffer
	err := runAPICheck(root, manifest(t, root), &out)
	if err == nil || !strings.Contains(out.String(), "incompatible: Hello: removed") {
		t.Errorf("apicheck: %v\n%s", err, out.String())
	}

	setVersions(t, root, map[string]string{"a": "v0.2.0"})
	commit(t, root, "a v0.2.0")
	if out, err := release(t, root); err != nil || !strings.Contains(out, "a/v0.2.0: created") {
		t.Fatalf("release with the minor bump: %v\n%s", err, out)
	}
}

// TestCheckCatchesUnreleasedSiblingChange: b's new version uses a function
// that a has only in the working tree, while a's version is the one
// already tagged without it. Step (d) must fail, naming b.
func TestCheckCatchesUnreleasedSiblingChange(t *testing.T) {
	root := newRepo(t)
	if _, err := release(t, root); err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{
		"a/extra.go": "package a\n\n// Extra is new.\nfunc Extra() int { return 3 }\n",
		"b/b.go":     "// Package b is a fixture.\npackage b\n\nimport \"example.com/r/a\"\n\n// Twice doubles a's value.\nfunc Twice() int { return 2 * a.Value() }\n\n// Three uses a's new Extra.\nfunc Three() int { return a.Extra() }\n",
	})
	setVersions(t, root, map[string]string{"b": "v0.1.1"})
	m := manifest(t, root)
	c := &checker{root: root, scratch: t.TempDir(), m: m, out: &bytes.Buffer{}}
	t.Cleanup(func() { removeAll(c.scratch) })
	if err := c.setupEnv(); err != nil {
		t.Fatal(err)
	}
	srcs, err := buildProxy(root, filepath.Join(c.scratch, "proxy"), m)
	if err != nil {
		t.Fatal(err)
	}
	if srcs[0].Dir != "a" || srcs[0].Tag != "a/v0.1.0" || srcs[1].Tag != "" {
		t.Fatalf("proxy sources %+v: want a from its tag, b from the tree", srcs)
	}
	err = c.moduleTests()
	if err == nil || !strings.Contains(err.Error(), "module b, step (d)") || !strings.Contains(err.Error(), "Extra") {
		t.Fatalf("moduleTests: %v", err)
	}
}

// TestReleaseOnCleanClone runs `release tag` on a clone of this
// repository: it creates one annotated tag per released module, as
// versions.yaml names them, and a second run creates nothing.
func TestReleaseOnCleanClone(t *testing.T) {
	top, err := git(".", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", "--no-hardlinks", top, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	mustGit(t, clone, "config", "user.email", "test@example.com")
	mustGit(t, clone, "config", "user.name", "test")
	mustGit(t, clone, "config", "tag.gpgSign", "false")
	m := manifest(t, clone)
	if errs := verify(clone, m); len(errs) > 0 {
		t.Fatal(errs)
	}
	var out bytes.Buffer
	if err := runTag(clone, m, &out); err != nil {
		t.Fatal(err)
	}
	head := mustGit(t, clone, "rev-parse", "HEAD")
	for _, dir := range m.Dirs() {
		tag := Tag(dir, m.Released[dir])
		if c := tagCommit(clone, tag); c != head {
			t.Errorf("tag %s at %q, want HEAD %s; output:\n%s", tag, c, head, out.String())
		}
	}
	out.Reset()
	if err := runTag(clone, m, &out); err != nil || strings.Contains(out.String(), "created") {
		t.Fatalf("second release: %v\n%s", err, out.String())
	}
}
