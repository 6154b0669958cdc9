package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/semver"
)

// plan is what `release tag` would do for one released module.
type plan struct {
	dir, version, tag string
	create            bool   // false: the tag exists at HEAD, or the module is unchanged since it
	note              string // why, for the report
}

// runTag is `make release`: it refuses, creating nothing, unless the tree
// is clean, every go.mod agrees with the manifest, no manifest tag exists
// at a commit with other contents or outside HEAD's history, versions only
// go up, and every incompatible API change comes with its version step;
// then it creates each missing tag, annotated, at HEAD.
func runTag(root string, m *Manifest, out io.Writer) error {
	status, err := git(root, "status", "--porcelain")
	if err != nil {
		return err
	}
	if status != "" {
		return fmt.Errorf("release refused: the tree is dirty; commit or stash first:\n%s", indent(status))
	}
	if errs := verify(root, m); len(errs) > 0 {
		return fmt.Errorf("release refused: go.mod files disagree with %s:\n%w", manifestFile, errors.Join(errs...))
	}
	head, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	var plans []plan
	var refusals []string
	for _, dir := range m.Dirs() {
		p, refusal, err := planTag(root, m, dir, head)
		if err != nil {
			return err
		}
		if refusal != "" {
			refusals = append(refusals, refusal)
			continue
		}
		plans = append(plans, p)
	}
	if len(refusals) > 0 {
		return fmt.Errorf("release refused, no tag created:\n%s", strings.Join(refusals, "\n"))
	}
	for _, p := range plans {
		if !p.create {
			fmt.Fprintf(out, "%s: %s\n", p.tag, p.note)
			continue
		}
		if _, err := git(root, "tag", "-a", p.tag, "-m", m.Path(p.dir)+" "+p.version, head); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: created at %s%s\n", p.tag, head[:12], p.note)
	}
	return nil
}

// planTag decides what to do for one module, or why to refuse.
func planTag(root string, m *Manifest, dir, head string) (p plan, refusal string, err error) {
	v := m.Released[dir]
	p = plan{dir: dir, version: v, tag: Tag(dir, v)}
	last, err := lastRelease(root, dir)
	if err != nil {
		return p, "", err
	}
	if c := tagCommit(root, p.tag); c != "" {
		switch {
		case c == head:
			p.note = "exists at HEAD already; skipped"
		case exec0(root, "merge-base", "--is-ancestor", c, head) != nil:
			return p, fmt.Sprintf("%s: tag %s already exists at %s, which is not in HEAD's history", dir, p.tag, c[:12]), nil
		case treeOf(root, c, dir) != treeOf(root, head, dir):
			return p, fmt.Sprintf("%s: changed since its release %s (at %s) without a version bump: raise %s's version in %s", dir, p.tag, c[:12], dir, manifestFile), nil
		default:
			p.note = fmt.Sprintf("exists at %s, and %s is unchanged since; skipped", c[:12], dir)
		}
		if semver.Compare(v, last) < 0 {
			p.note += fmt.Sprintf(" (a later %s/%s exists too)", dir, last)
		}
		return p, "", nil
	}
	if semver.Compare(v, last) < 0 {
		return p, fmt.Sprintf("%s: %s says %s, below its last release %s: versions only go up", dir, manifestFile, v, Tag(dir, last)), nil
	}
	p.create = true
	if last == "" {
		p.note = " (first release)"
		return p, "", nil
	}
	verdict, ok, err := checkAPI(root, m, dir)
	if err != nil {
		return p, "", err
	}
	if ok && !verdict.covered() {
		return p, fmt.Sprintf("%s: incompatible API changes since %s need %s, not %s:\n%s",
			dir, Tag(dir, last), needed(last), v, indent(strings.Join(verdict.Incompatible, "\n"))), nil
	}
	if ok {
		p.note = fmt.Sprintf(" (after %s; %d incompatible, %d compatible API changes)", last, len(verdict.Incompatible), len(verdict.Compatible))
	}
	return p, "", nil
}

// exec0 runs git and returns only its error.
func exec0(root string, args ...string) error {
	_, err := git(root, args...)
	return err
}
