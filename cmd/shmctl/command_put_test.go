package main

import (
	"strings"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

func TestMapEdits(t *testing.T) {
	path := makeSegment(t)
	mustRun(t, 0, "put", path, "config", "retries", "3")
	mustRun(t, 0, "put", path, "config", "owner", `{"name":"ann","ids":[1,2.5]}`)
	if out := mustRun(t, 0, "get", path, "config", "retries"); strings.TrimSpace(out) != "3" {
		t.Errorf("get retries: %q", out)
	}
	if out := mustRun(t, 0, "get", path, "config", "owner"); strings.TrimSpace(out) != `{"ids":[1,2.5],"name":"ann"}` {
		t.Errorf("get owner: %q", out)
	}
	if out := mustRun(t, 0, "del", path, "config", "retries"); !strings.Contains(out, `deleted "retries"`) {
		t.Errorf("del: %q", out)
	}
	_, errOut, code := runShmctl(t, "get", path, "config", "retries")
	if code != 1 || !strings.Contains(errOut, `has no key "retries"`) {
		t.Errorf("get of a deleted key: exit %d, %s", code, errOut)
	}
	_, errOut, code = runShmctl(t, "put", path, "config", "bad", "{not json")
	if code != 1 || !strings.Contains(errOut, "not JSON") {
		t.Errorf("put of bad JSON: exit %d, %s", code, errOut)
	}
	_, errOut, code = runShmctl(t, "put", path, "jobs", "k", "1")
	if code != 1 || !strings.Contains(errOut, "not a hashmap") {
		t.Errorf("put into a queue: exit %d, %s", code, errOut)
	}
	mustRun(t, 0, "check", path)
}

// TestIntegerKeyedMap: get, put, del and dump take and show the keys of an
// integer-keyed map as decimal numbers, stored as the map's processes
// store them, and refuse a key that is not a number of the map's width.
func TestIntegerKeyedMap(t *testing.T) {
	path := makeSegment(t)
	seg, err := segment.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := hashmap.New[int32, int64](seg, "scores", hashmap.MaxEntries(8))
	if err == nil {
		err = m.Store(-7, 49)
	}
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "put", path, "scores", "12", "144")
	if v, ok, err := m.Load(12); !ok || err != nil || v != 144 {
		t.Errorf("the map's Load(12) after shmctl put = %d %v %v", v, ok, err)
	}
	if out := mustRun(t, 0, "get", "--", path, "scores", "-7"); strings.TrimSpace(out) != "49" {
		t.Errorf("get -7: %q", out)
	}
	if out := mustRun(t, 0, "dump", path, "scores"); !strings.Contains(out, "-7") || !strings.Contains(out, "12") {
		t.Errorf("dump does not show the keys as numbers: %q", out)
	}
	for _, bad := range []string{"abc", "3000000000"} {
		_, errOut, code := runShmctl(t, "get", path, "scores", bad)
		if code != 1 || !strings.Contains(errOut, "keys are int32") {
			t.Errorf("get %s: exit %d, %s", bad, code, errOut)
		}
	}
	mustRun(t, 0, "del", "--", path, "scores", "-7")
	if _, ok, _ := m.Load(-7); ok {
		t.Error("shmctl del -7 left the key")
	}
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
}
