package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// goModDirs returns the directory, relative to root, of every go.mod in
// the repository, sorted; hidden directories and testdata are skipped.
func goModDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(dirs)
	return dirs, err
}

// verify checks that the go.mod files and the manifest agree, and returns
// every problem found (none means consistent):
//   - every module is in the manifest, under the path its directory gives;
//   - every module has the same go line;
//   - a require of a sibling names the sibling's manifest version, and a
//     released module requires no unreleased sibling;
//   - a command module (cmd/…) has no replace lines; any other module
//     replaces each sibling it requires with the sibling's relative
//     directory, and nothing else;
//   - direct requires sit in one block, // indirect ones in another after
//     it, and the replace lines in one block.
func verify(root string, m *Manifest) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	dirs, err := goModDirs(root)
	if err != nil {
		return []error{err}
	}
	known := append(m.Dirs(), m.Unreleased...)
	for _, d := range known {
		if !slices.Contains(dirs, d) {
			fail("%s names module directory %s, which has no go.mod", manifestFile, d)
		}
	}
	goLine := map[string][]string{}
	for _, dir := range dirs {
		if !slices.Contains(known, dir) {
			fail("module in %s/ is not in %s: add it under released or unreleased", dir, manifestFile)
			continue
		}
		gomod := filepath.Join(dir, "go.mod")
		data, err := os.ReadFile(filepath.Join(root, gomod))
		if err != nil {
			fail("%v", err)
			continue
		}
		f, err := modfile.Parse(gomod, data, nil)
		if err != nil {
			fail("%v", err)
			continue
		}
		if f.Module == nil || f.Module.Mod.Path != m.Path(dir) {
			fail("%s: module path should be %s", gomod, m.Path(dir))
		}
		if f.Go == nil {
			fail("%s: no go line", gomod)
		} else {
			goLine[f.Go.Version] = append(goLine[f.Go.Version], dir)
		}
		_, released := m.Released[dir]
		errs = append(errs, verifyRequires(m, gomod, dir, released, f)...)
		errs = append(errs, verifyShape(gomod, f)...)
	}
	if len(goLine) > 1 {
		var parts []string
		for v, ds := range goLine {
			parts = append(parts, fmt.Sprintf("go %s in %s", v, strings.Join(ds, ", ")))
		}
		slices.Sort(parts)
		fail("go lines differ between modules: %s", strings.Join(parts, "; "))
	}
	return errs
}

// verifyRequires checks one go.mod's requires and replaces of siblings.
func verifyRequires(m *Manifest, gomod, dir string, released bool, f *modfile.File) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	required := map[string]bool{}
	for _, r := range f.Require {
		sib, ok := m.Dir(r.Mod.Path)
		if !ok {
			continue
		}
		required[sib] = true
		want, isReleased := m.Released[sib]
		switch {
		case !isReleased && released:
			fail("%s: released module %s requires %s, which is never released", gomod, dir, sib)
		case !isReleased:
			fail("%s: requires %s, which is not a released module in %s", gomod, sib, manifestFile)
		case r.Mod.Version != want:
			fail("%s: requires %s %s, but %s says %s (run make release-bump)", gomod, sib, r.Mod.Version, manifestFile, want)
		}
	}
	replaced := map[string]bool{}
	for _, r := range f.Replace {
		sib, ok := m.Dir(r.Old.Path)
		switch {
		case isCommand(dir):
			fail("%s: has a replace line for %s: go install …@version refuses a module with replace lines", gomod, r.Old.Path)
		case !ok:
			fail("%s: replaces %s, which is not a module of this repository: users of %s never see that replacement", gomod, r.Old.Path, dir)
		case r.Old.Version != "" || r.New.Version != "":
			fail("%s: replaces %s with a version; siblings are replaced by their directory only", gomod, r.Old.Path)
		default:
			rel, _ := filepath.Rel(dir, sib)
			if filepath.ToSlash(rel) != r.New.Path && "./"+filepath.ToSlash(rel) != r.New.Path {
				fail("%s: replaces %s with %s; its directory is %s", gomod, sib, r.New.Path, filepath.ToSlash(rel))
			}
			replaced[sib] = true
		}
	}
	if !isCommand(dir) {
		for sib := range required {
			if !replaced[sib] {
				fail("%s: requires %s but has no replace line for ../%s, so it does not build from this tree alone", gomod, sib, sib)
			}
		}
		for sib := range replaced {
			if !required[sib] {
				fail("%s: replaces %s, which it does not require", gomod, sib)
			}
		}
	}
	return errs
}

// verifyShape checks the layout of one go.mod: at most one block of
// direct requires, then at most one of // indirect requires, and at most
// one replace block.
func verifyShape(gomod string, f *modfile.File) []error {
	var errs []error
	var requireKinds []string // "direct", "indirect" or "mixed", in file order
	replaces := 0
	for _, stmt := range f.Syntax.Stmt {
		var lines []*modfile.Line
		var verb string
		switch s := stmt.(type) {
		case *modfile.Line:
			verb, lines = s.Token[0], []*modfile.Line{s}
		case *modfile.LineBlock:
			verb, lines = s.Token[0], s.Line
		}
		switch verb {
		case "replace":
			replaces++
		case "require":
			direct, indirect := false, false
			for _, l := range lines {
				if isIndirect(l) {
					indirect = true
				} else {
					direct = true
				}
			}
			switch {
			case direct && indirect:
				requireKinds = append(requireKinds, "mixed")
			case indirect:
				requireKinds = append(requireKinds, "indirect")
			default:
				requireKinds = append(requireKinds, "direct")
			}
		}
	}
	if replaces > 1 {
		errs = append(errs, fmt.Errorf("%s: %d replace blocks; keep one", gomod, replaces))
	}
	switch strings.Join(requireKinds, ",") {
	case "", "direct", "indirect", "direct,indirect":
	default:
		errs = append(errs, fmt.Errorf("%s: require blocks are %s; want one block of direct requires, then one of // indirect ones", gomod, strings.Join(requireKinds, ", ")))
	}
	return errs
}

func isIndirect(l *modfile.Line) bool {
	for _, c := range l.Comments.Suffix {
		if strings.TrimSpace(strings.TrimPrefix(c.Token, "//")) == "indirect" {
			return true
		}
	}
	return false
}
