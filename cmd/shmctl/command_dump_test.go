package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestReadOnlyCommandsChangeNothing runs every inspection command and
// compares the segment file's bytes before and after.
func TestReadOnlyCommandsChangeNothing(t *testing.T) {
	path := makeSegment(t)
	before := fileBytes(t, path)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"ls", "--dir", dir, path},
		{"ls", "--json", "--dir", dir, path},
		{"info", path},
		{"info", "--json", path},
		{"dump", path, "jobs"},
		{"dump", path, "events"},
		{"dump", "--json", path, "undo"},
		{"dump", path, "config"},
		{"dump", path, "flags"},
		{"dump", path, "temps"},
		{"get", path, "config", "mode"},
		{"check", path},
		{"check", "--json", path},
		{"watch", "--count", "2", "--interval", "10ms", path},
		{"watch", "--json", "--count", "2", "--interval", "10ms", path},
	} {
		mustRun(t, 0, args...)
	}
	if !bytes.Equal(before, fileBytes(t, path)) {
		t.Fatal("a read-only command changed the segment")
	}
}

func TestDump(t *testing.T) {
	path := makeSegment(t)
	for obj, wants := range map[string][]string{
		"jobs":   {`0	"resize img-1"`, `2	"send mail"`, "(3 items, raw-string)"},
		"events": {`{"kind":"login","n":1}`},
		"undo":   {"2\t30", "0\t10", "plain2:int64/8"},
		"config": {`"mode"	"fast"`, `"limits"	{"cpu":2,"mem":"1G"}`, "cbor:interface {}"},
		"flags":  {"3\n64\n", "(2 bits set"},
		"temps":  {"0\t21.5", "3\t-4", "float64"},
	} {
		out := mustRun(t, 0, "dump", path, obj)
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("dump %s lacks %q:\n%s", obj, w, out)
			}
		}
	}
	var res dumpResult
	if err := json.Unmarshal([]byte(mustRun(t, 0, "dump", "--json", path, "jobs")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 || res.Items[0].Value != "resize img-1" {
		t.Errorf("dump --json: %+v", res)
	}
	// dump did not pop: the queue still holds its items.
	if out := mustRun(t, 0, "dump", "-n", "1", path, "jobs"); !strings.Contains(out, "(1 items") {
		t.Errorf("dump -n 1:\n%s", out)
	}
	_, errOut, code := runShmctl(t, "dump", path, "nosuch")
	if code != 1 || !strings.Contains(errOut, `"nosuch"`) || !strings.Contains(errOut, "shmctl info") {
		t.Errorf("dump of a missing object: exit %d, %s", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []string{"ls", "info", "dump", "get", "put", "del", "check", "recover", "watch", "rm"} {
		out := mustRun(t, 0, c, "--help")
		if !strings.Contains(out, "--json") {
			t.Errorf("%s --help lacks --json:\n%s", c, out)
		}
	}
}
