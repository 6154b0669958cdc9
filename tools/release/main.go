// Command release keeps the versions of this repository's modules in step
// and proves that users outside it can fetch them. See docs/RELEASING.md.
//
//	release verify     check every go.mod against versions.yaml
//	release bump       write versions.yaml's versions into every go.mod
//	release check      verify, then fetch, build and test the modules as a
//	                   user would, through a module proxy made from the tree
//	release apicheck   compare each module's API with its last release
//	release tag        create the release tags versions.yaml names
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	repo := fs.String("C", "", "the repository's root (default: the git top level of the current directory)")
	keep := fs.Bool("keep", false, "check: keep the scratch directory")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: release [-C dir] verify|bump|check|apicheck|tag")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("release: want one command")
	}
	root := *repo
	if root == "" {
		top, err := git(".", "rev-parse", "--show-toplevel")
		if err != nil {
			return err
		}
		root = top
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	m, err := loadManifest(root)
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "verify":
		if errs := verify(root, m); len(errs) > 0 {
			return fmt.Errorf("%d problems:\n%w", len(errs), errors.Join(errs...))
		}
		fmt.Fprintf(out, "every go.mod agrees with %s\n", manifestFile)
		return nil
	case "bump":
		changed, err := bump(root, m)
		for _, f := range changed {
			fmt.Fprintf(out, "updated %s\n", f)
		}
		return err
	case "check":
		return runCheck(root, m, out, *keep)
	case "apicheck":
		return runAPICheck(root, m, out)
	case "tag":
		return runTag(root, m, out)
	default:
		fs.Usage()
		return fmt.Errorf("release: unknown command %q", fs.Arg(0))
	}
}
