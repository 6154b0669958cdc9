package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
	"gopkg.in/yaml.v3"
)

// manifestFile is the manifest's name at the repository root.
const manifestFile = "versions.yaml"

// Manifest is versions.yaml: every module of the repository, the released
// ones with their version.
type Manifest struct {
	// Prefix is the module path of the repository root; a module in
	// directory d has path Prefix/d.
	Prefix string `yaml:"module-prefix"`
	// Released maps a module's directory to its version.
	Released map[string]string `yaml:"released"`
	// Unreleased lists the directories of modules that are never tagged.
	Unreleased []string `yaml:"unreleased"`
}

// loadManifest reads and checks root/versions.yaml.
func loadManifest(root string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(root, manifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestFile, err)
	}
	if m.Prefix == "" {
		return nil, fmt.Errorf("%s: module-prefix is missing", manifestFile)
	}
	for _, dir := range m.Dirs() {
		v := m.Released[dir]
		if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Build(v) != "" {
			return nil, fmt.Errorf("%s: %s: %q is not a canonical semantic version (vMAJOR.MINOR.PATCH)", manifestFile, dir, v)
		}
		if semver.Major(v) != "v0" && semver.Major(v) != "v1" && !strings.HasSuffix(dir, "/"+semver.Major(v)) {
			return nil, fmt.Errorf("%s: %s: version %s needs a module path ending in /%s", manifestFile, dir, v, semver.Major(v))
		}
		if slices.Contains(m.Unreleased, dir) {
			return nil, fmt.Errorf("%s: %s is listed as both released and unreleased", manifestFile, dir)
		}
	}
	return &m, nil
}

// Dirs returns the released modules' directories, sorted.
func (m *Manifest) Dirs() []string {
	dirs := make([]string, 0, len(m.Released))
	for d := range m.Released {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	return dirs
}

// Path returns the module path of the module in dir.
func (m *Manifest) Path(dir string) string { return m.Prefix + "/" + dir }

// Dir returns the directory of the in-repository module with the given
// path, and whether path names one.
func (m *Manifest) Dir(path string) (string, bool) {
	return strings.CutPrefix(path, m.Prefix+"/")
}

// Tag returns the tag that marks dir's release at version v.
func Tag(dir, v string) string { return dir + "/" + v }

// isCommand reports whether the module in dir is a program users install
// with `go install …@version`, which refuses a module with replace lines.
func isCommand(dir string) bool { return strings.HasPrefix(dir, "cmd/") }
