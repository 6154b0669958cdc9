package main

import (
	"strings"
	"testing"
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
