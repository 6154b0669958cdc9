package main

import (
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
)

// bump writes the manifest's versions into every require of a released
// sibling, in every go.mod of the repository, and returns the go.mod files
// it changed.
func bump(root string, m *Manifest) ([]string, error) {
	dirs, err := goModDirs(root)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, dir := range dirs {
		gomod := filepath.Join(root, dir, "go.mod")
		data, err := os.ReadFile(gomod)
		if err != nil {
			return changed, err
		}
		f, err := modfile.Parse(gomod, data, nil)
		if err != nil {
			return changed, err
		}
		edited := false
		for _, r := range f.Require {
			sib, ok := m.Dir(r.Mod.Path)
			if want, released := m.Released[sib]; ok && released && r.Mod.Version != want {
				if err := f.AddRequire(r.Mod.Path, want); err != nil {
					return changed, err
				}
				edited = true
			}
		}
		if !edited {
			continue
		}
		out, err := f.Format()
		if err != nil {
			return changed, err
		}
		if err := os.WriteFile(gomod, out, 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, filepath.Join(dir, "go.mod"))
	}
	return changed, nil
}
