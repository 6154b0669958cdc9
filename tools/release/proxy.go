package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// source says where a module's proxy entry came from.
type source struct {
	Dir, Version string
	// Tag is the release tag the entry was made from, or "" when it was
	// made from the working tree (the version is not tagged yet).
	Tag string
}

// buildProxy writes a GOPROXY file tree under dir (used as file://dir)
// holding every released module at its manifest version, zipped by
// golang.org/x/mod/zip with the go command's own rules. A version that is
// tagged already is taken from its tag, since that is what users fetch;
// an untagged one from the working tree, as it would be tagged now.
func buildProxy(root, dir string, m *Manifest) ([]source, error) {
	var srcs []source
	for _, d := range m.Dirs() {
		mv := module.Version{Path: m.Path(d), Version: m.Released[d]}
		src := source{Dir: d, Version: mv.Version}
		if tagCommit(root, Tag(d, mv.Version)) != "" {
			src.Tag = Tag(d, mv.Version)
		}
		if err := addToProxy(root, dir, d, mv, src.Tag); err != nil {
			return nil, fmt.Errorf("module %s: building the proxy: %w", d, err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// addToProxy writes mv's list, .info, .mod and .zip files; from the tag
// when tag is not "", else from the working tree's directory d.
func addToProxy(root, proxyDir, d string, mv module.Version, tag string) error {
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(proxyDir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	var zbuf bytes.Buffer
	var gomod []byte
	when := time.Now().UTC()
	if tag != "" {
		if err = zip.CreateFromVCS(&zbuf, mv, root, "refs/tags/"+tag, d); err != nil {
			return err
		}
		s, err := git(root, "show", "refs/tags/"+tag+":"+d+"/go.mod")
		if err != nil {
			return err
		}
		gomod = []byte(s + "\n")
		if t, err := git(root, "log", "-1", "--format=%cI", "refs/tags/"+tag); err == nil {
			if pt, err := time.Parse(time.RFC3339, t); err == nil {
				when = pt.UTC()
			}
		}
	} else {
		if err = zip.CreateFromDir(&zbuf, mv, filepath.Join(root, d)); err != nil {
			return err
		}
		if gomod, err = os.ReadFile(filepath.Join(root, d, "go.mod")); err != nil {
			return err
		}
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mv.Version, when})
	files := map[string][]byte{
		"list":               []byte(mv.Version + "\n"),
		mv.Version + ".info": info,
		mv.Version + ".mod":  gomod,
		mv.Version + ".zip":  zbuf.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
