package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// checker runs what a user outside the repository would do, in a scratch
// directory, against a file-system module proxy built from the tree.
type checker struct {
	root, scratch string
	m             *Manifest
	out           io.Writer
	env           []string // for the go command in the scratch directory
}

// stepError names the module and the step that failed.
type stepError struct {
	module, step string
	err          error
}

func (e *stepError) Error() string {
	return fmt.Sprintf("release-check failed: module %s, step %s: %v", e.module, e.step, e.err)
}

func (e *stepError) Unwrap() error { return e.err }

// runCheck is `make release-check`.
func runCheck(root string, m *Manifest, out io.Writer, keep bool) error {
	if errs := verify(root, m); len(errs) > 0 {
		return &stepError{"(all)", "verify go.mod against " + manifestFile, errors.Join(errs...)}
	}
	fmt.Fprintf(out, "verify: every go.mod agrees with %s\n", manifestFile)
	scratch, err := os.MkdirTemp("", "posixshm-release-check-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "scratch directory (kept): %s\n", scratch)
	} else {
		defer removeAll(scratch)
	}
	c := &checker{root: root, scratch: scratch, m: m, out: out}
	if err := c.setupEnv(); err != nil {
		return err
	}
	srcs, err := buildProxy(root, filepath.Join(scratch, "proxy"), m)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		from := "working tree"
		if s.Tag != "" {
			from = "tag " + s.Tag
		}
		fmt.Fprintf(out, "proxy: %s %s from the %s\n", m.Path(s.Dir), s.Version, from)
	}
	for _, step := range []func() error{c.tidy, c.consumerQueue, c.consumerHashmap, c.installShmctl, c.moduleTests} {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "release-check: ok")
	return nil
}

// setupEnv builds the scratch environment: no workspace; our modules from
// the scratch proxy, everything else from this machine's module cache and
// then the proxy the go command was already using; a fresh module cache, so
// that a version built from an earlier tree is never reused; no checksum
// database lookups for our own modules, which it does not know yet.
func (c *checker) setupEnv() error {
	goenv := func(name string) (string, error) {
		out, err := exec.Command("go", "env", name).Output()
		return strings.TrimSpace(string(out)), err
	}
	proxy, err := goenv("GOPROXY")
	if err != nil {
		return fmt.Errorf("go env GOPROXY: %w", err)
	}
	cache, err := goenv("GOMODCACHE")
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	flags, _ := goenv("GOFLAGS")
	chain := "file://" + filepath.Join(c.scratch, "proxy") + ",file://" + filepath.Join(cache, "cache", "download")
	if proxy != "" && proxy != "off" {
		chain += "," + proxy
	}
	drop := []string{"GOWORK", "GOPROXY", "GOFLAGS", "GOMODCACHE", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOBIN"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(drop, k) {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"GOWORK=off",
		"GOPROXY="+chain,
		"GOFLAGS="+strings.TrimSpace("-mod=mod "+flags),
		"GOMODCACHE="+filepath.Join(c.scratch, "modcache"),
		"GONOSUMDB="+c.m.Prefix,
		"GOBIN="+filepath.Join(c.scratch, "bin"),
	)
	return nil
}

// run runs a command in dir with the scratch environment (plus extra) and
// returns its combined output, which an error includes.
func (c *checker) run(dir string, extra []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(c.env), extra...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if err != nil {
		return b.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, indent(b.String()))
	}
	return b.String(), nil
}

// consumer writes a program that imports only the given modules into a
// new directory, fetches them with go get, builds it, runs it, and checks
// that its module graph holds none of the other released modules.
func (c *checker) consumer(step string, imports []string, src, want string) error {
	fail := func(err error) error { return &stepError{strings.Join(imports, "+"), step, err} }
	dir := filepath.Join(c.scratch, "consumer-"+strings.Join(imports, "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/consumer\n\ngo 1.26.0\n",
		"main.go": src,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return fail(err)
		}
	}
	args := []string{"get"}
	for _, d := range imports {
		args = append(args, c.m.Path(d)+"@"+c.m.Released[d])
	}
	if _, err := c.run(dir, nil, "go", args...); err != nil {
		return fail(err)
	}
	if _, err := c.run(dir, nil, "go", "build", "-o", "consumer", "."); err != nil {
		return fail(err)
	}
	got, err := c.run(dir, nil, filepath.Join(dir, "consumer"))
	if err != nil {
		return fail(err)
	}
	if strings.TrimSpace(got) != want {
		return fail(fmt.Errorf("the program printed %q, want %q", strings.TrimSpace(got), want))
	}
	graph, err := c.run(dir, nil, "go", "list", "-m", "all")
	if err != nil {
		return fail(err)
	}
	var unwanted []string
	for _, line := range strings.Split(strings.TrimSpace(graph), "\n") {
		path, _, _ := strings.Cut(line, " ")
		if d, ok := c.m.Dir(path); ok && !slices.Contains([]string{"segment", "alloc", "codec"}, d) && !slices.Contains(imports, d) {
			unwanted = append(unwanted, path)
		}
	}
	if len(unwanted) > 0 {
		return fail(fmt.Errorf("go list -m all names modules the program does not use: %s", strings.Join(unwanted, ", ")))
	}
	fmt.Fprintf(c.out, "%s: built and ran; go list -m all:\n%s", step, indent(graph))
	return nil
}

const queueConsumer = `package main

import (
	"fmt"
	"log"

	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

func main() {
	seg, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	q, err := queue.New[string](seg, "jobs", queue.Capacity(8))
	if err != nil {
		log.Fatal(err)
	}
	if err := q.Push("fetched alone"); err != nil {
		log.Fatal(err)
	}
	v, err := q.Pop()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
}
`

const hashmapConsumer = `package main

import (
	"fmt"
	"log"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

func main() {
	seg, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	m, err := hashmap.New[string, int](seg, "counts", hashmap.MaxEntries(16))
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Store("answer", 42); err != nil {
		log.Fatal(err)
	}
	v, ok, err := m.Load("answer")
	if err != nil || !ok {
		log.Fatal(ok, err)
	}
	fmt.Println("answer", v)
}
`

// consumerQueue is step (a): a program that imports queue and segment.
func (c *checker) consumerQueue() error {
	return c.consumer("(a) queue-only consumer", []string{"queue", "segment"}, queueConsumer, "fetched alone")
}

// consumerHashmap is step (b): a program that imports hashmap (and
// segment, which every structure takes).
func (c *checker) consumerHashmap() error {
	return c.consumer("(b) hashmap-only consumer", []string{"hashmap", "segment"}, hashmapConsumer, "answer 42")
}

// installShmctl is step (c): go install cmd/shmctl@version, then run it.
func (c *checker) installShmctl() error {
	const step = "(c) go install shmctl@version"
	const dir = "cmd/shmctl"
	v, ok := c.m.Released[dir]
	if !ok {
		return &stepError{dir, step, fmt.Errorf("%s is not a released module in %s", dir, manifestFile)}
	}
	// go install pkg@version takes no -mod flag.
	if _, err := c.run(c.scratch, []string{"GOFLAGS=-buildvcs=false"}, "go", "install", c.m.Path(dir)+"@"+v); err != nil {
		return &stepError{dir, step, err}
	}
	help, err := c.run(c.scratch, nil, filepath.Join(c.scratch, "bin", "shmctl"), "--help")
	if err != nil {
		return &stepError{dir, step, err}
	}
	if !strings.Contains(help, "Usage:") {
		return &stepError{dir, step, fmt.Errorf("shmctl --help printed no usage:\n%s", indent(help))}
	}
	fmt.Fprintf(c.out, "%s: installed %s@%s; shmctl --help runs\n", step, c.m.Path(dir), v)
	return nil
}

// moduleTests is step (d): each library module, unzipped from the proxy as
// a user's go command would get it, its replace lines dropped, passes its
// own tests against the proxy: it cannot lean on a sibling's change that
// the manifest's versions do not hold.
func (c *checker) moduleTests() error {
	const step = "(d) module's own tests against the proxy"
	for _, d := range c.m.Dirs() {
		if isCommand(d) {
			continue
		}
		mv := module.Version{Path: c.m.Path(d), Version: c.m.Released[d]}
		esc, _ := module.EscapePath(mv.Path)
		zipFile := filepath.Join(c.scratch, "proxy", filepath.FromSlash(esc), "@v", mv.Version+".zip")
		dir := filepath.Join(c.scratch, "test", filepath.FromSlash(d))
		if err := zip.Unzip(dir, mv, zipFile); err != nil {
			return &stepError{d, step, err}
		}
		if err := makeWritable(dir); err != nil {
			return &stepError{d, step, err}
		}
		if err := dropReplaces(filepath.Join(dir, "go.mod")); err != nil {
			return &stepError{d, step, err}
		}
		out, err := c.run(dir, nil, "go", "test", "-count=1", "./...")
		if err != nil {
			return &stepError{d, step, err}
		}
		fmt.Fprintf(c.out, "%s: %s@%s\n%s", step, d, mv.Version, indent(out))
	}
	return nil
}

// dropReplaces removes every replace line of a go.mod, as a consumer's
// go command ignores them.
func dropReplaces(gomod string) error {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return err
	}
	for _, r := range slices.Clone(f.Replace) {
		if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
			return err
		}
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(gomod, out, 0o644)
}

// tidy checks that every go.mod is what go mod tidy would write: each
// module with replace lines in place, without the workspace; a command
// module (no replace lines) in a copy, against the proxy.
func (c *checker) tidy() error {
	const step = "go mod tidy"
	dirs, err := goModDirs(c.root)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if isCommand(d) {
			if err := c.tidyCommand(d); err != nil {
				return &stepError{d, step, err}
			}
			continue
		}
		cmd := exec.Command("go", "mod", "tidy", "-diff")
		cmd.Dir = filepath.Join(c.root, d)
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return &stepError{d, step, fmt.Errorf("go.mod or go.sum is not tidy (run go mod tidy in %s with GOWORK=off):\n%s", d, indent(string(out)))}
		}
	}
	fmt.Fprintf(c.out, "%s: every go.mod is tidy\n", step)
	return nil
}

// tidyCommand runs go mod tidy on a copy of the command module d against
// the proxy, and compares go.mod (go.sum cannot hold the hashes of
// versions not yet published, and go install …@version does not read it).
func (c *checker) tidyCommand(d string) error {
	dst := filepath.Join(c.scratch, "tidy", filepath.FromSlash(d))
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(c.root, d))); err != nil {
		return err
	}
	if err := makeWritable(dst); err != nil {
		return err
	}
	if _, err := c.run(dst, []string{"GOFLAGS=-buildvcs=false"}, "go", "mod", "tidy"); err != nil {
		return err
	}
	before, err := os.ReadFile(filepath.Join(c.root, d, "go.mod"))
	if err != nil {
		return err
	}
	after, err := os.ReadFile(filepath.Join(dst, "go.mod"))
	if err != nil {
		return err
	}
	if !bytes.Equal(before, after) {
		return fmt.Errorf("go mod tidy against the released versions would change %s/go.mod to:\n%s", d, indent(string(after)))
	}
	return nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

// makeWritable gives the owner write permission on everything under dir
// (module zips and caches are unpacked read-only).
func makeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(p, info.Mode().Perm()|0o200)
	})
}

// removeAll removes dir, read-only module cache files included.
func removeAll(dir string) {
	_ = makeWritable(dir)
	_ = os.RemoveAll(dir)
}
