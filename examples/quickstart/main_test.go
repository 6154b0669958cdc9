package main

import (
	"fmt"
	"os"
	"testing"
)

func TestQuickStart(t *testing.T) {
	if err := run(fmt.Sprintf("/psm-test-quickstart-%d", os.Getpid())); err != nil {
		t.Fatal(err)
	}
}
