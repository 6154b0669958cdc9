package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/exp/apidiff"
	"golang.org/x/mod/semver"
	"golang.org/x/tools/go/packages"
)

// lastRelease returns the highest version dir is tagged at, or "".
func lastRelease(root, dir string) (string, error) {
	out, err := git(root, "tag", "--list", dir+"/v*")
	if err != nil {
		return "", err
	}
	last := ""
	for _, t := range strings.Fields(out) {
		v := strings.TrimPrefix(t, dir+"/")
		// A tag of a deeper module (cmd/x/v1 under dir cmd) is not dir's.
		if semver.IsValid(v) && semver.Canonical(v) == v && semver.Compare(v, last) > 0 {
			last = v
		}
	}
	return last, nil
}

// bumpCovers reports whether going from old to new is a big enough step
// for an incompatible change: a new minor version while at v0, a new major
// version from v1 on.
func bumpCovers(old, new string) bool {
	if semver.Major(old) == "v0" {
		return semver.Compare(semver.MajorMinor(new), semver.MajorMinor(old)) > 0
	}
	return semver.Compare(semver.Major(new), semver.Major(old)) > 0
}

// apiChanges compares the exported API of the module in dir at commit old
// with the working tree's. Command modules have no API to compare.
func apiChanges(root string, m *Manifest, dir, oldCommit string) (apidiff.Report, error) {
	scratch, err := os.MkdirTemp("", "posixshm-apicheck-")
	if err != nil {
		return apidiff.Report{}, err
	}
	defer removeAll(scratch)
	// The old tree in full, so that its workspace resolves its siblings
	// as they were at that commit.
	archive := exec.Command("git", "archive", "--format=tar", oldCommit)
	archive.Dir = root
	tarball, err := archive.Output()
	if err != nil {
		return apidiff.Report{}, fmt.Errorf("git archive %s: %w", oldCommit, err)
	}
	untar := exec.Command("tar", "-x", "-C", scratch)
	untar.Stdin = bytes.NewReader(tarball)
	if out, err := untar.CombinedOutput(); err != nil {
		return apidiff.Report{}, fmt.Errorf("tar: %v: %s", err, out)
	}
	oldMod, err := loadModule(filepath.Join(scratch, dir), m.Path(dir))
	if err != nil {
		return apidiff.Report{}, fmt.Errorf("loading %s at %s: %w", dir, oldCommit, err)
	}
	newMod, err := loadModule(filepath.Join(root, dir), m.Path(dir))
	if err != nil {
		return apidiff.Report{}, fmt.Errorf("loading %s in the working tree: %w", dir, err)
	}
	return apidiff.ModuleChanges(oldMod, newMod), nil
}

// loadModule type-checks the importable packages of the module in dir:
// internal packages, commands and tests are not API.
func loadModule(dir, path string) (*apidiff.Module, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedImports | packages.NeedDeps,
		Dir:  dir,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, err
	}
	mod := &apidiff.Module{Path: path}
	var errs []error
	for _, p := range pkgs {
		for _, e := range p.Errors {
			errs = append(errs, e)
		}
		if p.Name == "main" || slices.Contains(strings.Split(p.PkgPath, "/"), "internal") {
			continue
		}
		mod.Packages = append(mod.Packages, p.Types)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(mod.Packages, func(a, b *types.Package) int { return strings.Compare(a.Path(), b.Path()) })
	return mod, nil
}

// apiVerdict is the API check of one module.
type apiVerdict struct {
	Dir, Last, Next string
	Incompatible    []string
	Compatible      []string
}

// covered reports whether the version step allows the incompatible
// changes found.
func (v apiVerdict) covered() bool { return len(v.Incompatible) == 0 || bumpCovers(v.Last, v.Next) }

// checkAPI runs the API comparison for dir against its last release, if
// it has one; ok is false when there is nothing to compare.
func checkAPI(root string, m *Manifest, dir string) (v apiVerdict, ok bool, err error) {
	last, err := lastRelease(root, dir)
	if err != nil || last == "" || isCommand(dir) {
		return v, false, err
	}
	commit := tagCommit(root, Tag(dir, last))
	r, err := apiChanges(root, m, dir, commit)
	if err != nil {
		return v, false, fmt.Errorf("module %s: api check against %s: %w", dir, Tag(dir, last), err)
	}
	v = apiVerdict{Dir: dir, Last: last, Next: m.Released[dir]}
	for _, c := range r.Changes {
		if c.Compatible {
			v.Compatible = append(v.Compatible, c.Message)
		} else {
			v.Incompatible = append(v.Incompatible, c.Message)
		}
	}
	return v, true, nil
}

// runAPICheck is `make apicheck`: for each released library module with an
// earlier release, it prints the API changes since that release, and fails
// when an incompatible change comes without the version step it needs.
func runAPICheck(root string, m *Manifest, out io.Writer) error {
	var bad []string
	for _, dir := range m.Dirs() {
		v, ok, err := checkAPI(root, m, dir)
		if err != nil {
			return err
		}
		if !ok {
			if isCommand(dir) {
				fmt.Fprintf(out, "%s: a command; no API to compare\n", dir)
			} else {
				fmt.Fprintf(out, "%s: no release yet (no tag %s/v*); nothing to compare\n", dir, dir)
			}
			continue
		}
		fmt.Fprintf(out, "%s: %s (last release) -> %s (%s): %d incompatible, %d compatible changes\n",
			dir, v.Last, v.Next, manifestFile, len(v.Incompatible), len(v.Compatible))
		for _, msg := range v.Incompatible {
			fmt.Fprintf(out, "    incompatible: %s\n", msg)
		}
		for _, msg := range v.Compatible {
			fmt.Fprintf(out, "    compatible: %s\n", msg)
		}
		if !v.covered() {
			bad = append(bad, fmt.Sprintf("%s: incompatible API changes since %s need %s", dir, Tag(dir, v.Last), needed(v.Last)))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "\n"))
	}
	return nil
}

// needed says which version step an incompatible change after last needs.
func needed(last string) string {
	if semver.Major(last) == "v0" {
		return "a new minor version (" + semver.MajorMinor(last) + ".x -> the next minor) in " + manifestFile
	}
	return "a new major version (and a /vN module path)"
}
