package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLs(t *testing.T) {
	path := makeSegment(t)
	dir := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello, not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 0, "ls", "--dir", t.TempDir(), dir)
	if !strings.Contains(out, "demo.shm") || strings.Contains(out, "notes.txt") {
		t.Errorf("ls:\n%s", out)
	}
	out = mustRun(t, 0, "ls", "--all", "--dir", t.TempDir(), dir)
	if !strings.Contains(out, "notes.txt") || !strings.Contains(out, "foreign") {
		t.Errorf("ls --all:\n%s", out)
	}
	var ents []lsEntry
	if err := json.Unmarshal([]byte(mustRun(t, 0, "ls", "--json", "--dir", t.TempDir(), dir)), &ents); err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Objects != 6 || ents[0].Live != 0 || ents[0].Used == 0 {
		t.Errorf("ls --json: %+v", ents)
	}
}

func TestRm(t *testing.T) {
	path := makeSegment(t)
	other := filepath.Join(filepath.Dir(path), "other")
	os.WriteFile(other, []byte("not ours"), 0o600)
	if _, errOut, code := runShmctl(t, "rm", other); code != 1 || !strings.Contains(errOut, "not a posixshm segment") {
		t.Errorf("rm of a foreign file: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("rm removed a foreign file")
	}
	mustRun(t, 0, "rm", path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("segment still there after rm: %v", err)
	}
}
