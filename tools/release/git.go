package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// git runs git in dir and returns its trimmed standard output; an error
// carries git's standard error.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// tagCommit returns the commit a tag points to, or "" when no such tag
// exists.
func tagCommit(root, tag string) string {
	c, err := git(root, "rev-parse", "-q", "--verify", "refs/tags/"+tag+"^{commit}")
	if err != nil {
		return ""
	}
	return c
}

// treeOf returns the hash of the tree of dir at rev ("" when dir does not
// exist there): two revisions with the same hash hold the same files.
func treeOf(root, rev, dir string) string {
	h, err := git(root, "rev-parse", "-q", "--verify", rev+":"+dir)
	if err != nil {
		return ""
	}
	return h
}
