package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/posixshm/posixshm/segment"
	"github.com/spf13/cobra"
)

// run executes shmctl with args and returns the process exit status:
// 0 on success, 1 on an error (printed to stderr), 2 when check found
// problems.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var pf problemsFound
	switch {
	case err == nil:
		return 0
	case errors.As(err, &pf):
		return 2
	default:
		fmt.Fprintln(stderr, "shmctl:", err)
		return 1
	}
}

// problemsFound is returned by check after it printed its problems.
type problemsFound int

func (p problemsFound) Error() string { return fmt.Sprintf("%d problems found", int(p)) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "shmctl",
		Short: "Inspect, check and repair posixshm shared-memory segments",
		Long: `shmctl shows what lives in posixshm segments: which segments exist, the
objects inside them, their items, who is attached, and whether anything
leaked or was left half done by a process that died.

A segment is named as the library names it ("/name", a file in /dev/shm)
or by the path of a file-backed segment. Inspection commands (ls, info,
dump, get, check, watch) open segments read-only and change nothing;
recover, put, del and rm write, and say so in their names.

Every command takes --json for output that scripts can read.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newLsCommand(),
		newInfoCommand(),
		newDumpCommand(),
		newGetCommand(),
		newPutCommand(),
		newDelCommand(),
		newCheckCommand(),
		newRecoverCommand(),
		newWatchCommand(),
		newRmCommand(),
	)
	return root
}

// isPath reports whether arg names a file-backed segment rather than a
// POSIX shared memory name.
func isPath(arg string) bool {
	return strings.Count(arg, "/") > 1 || !strings.HasPrefix(arg, "/") && strings.Contains(arg, "/") || strings.HasPrefix(arg, "./")
}

// segmentName turns a command-line argument into the name or path Open
// takes: "/name" and "name" are named segments; anything with another
// slash is a path.
func segmentName(arg string) string {
	if isPath(arg) || strings.HasPrefix(arg, "/") {
		return arg
	}
	return "/" + arg
}

// openSegment opens the segment arg names, read-only unless writable.
func openSegment(arg string, writable bool) (*segment.Segment, error) {
	var opts []segment.Option
	if !writable {
		opts = append(opts, segment.ReadOnly())
	}
	name := segmentName(arg)
	var (
		seg *segment.Segment
		err error
	)
	if isPath(name) {
		seg, err = segment.OpenFile(name, opts...)
	} else {
		seg, err = segment.Open(name, opts...)
	}
	if err != nil {
		return nil, explain(fmt.Errorf("segment %s: %w", name, err))
	}
	return seg, nil
}

// explain appends what to do to the errors people meet most.
func explain(err error) error {
	switch {
	case errors.Is(err, segment.ErrNotExist):
		return fmt.Errorf("%w (shmctl ls lists the segments)", err)
	case errors.Is(err, segment.ErrForeign):
		return fmt.Errorf("%w (this file was not made by posixshm; shmctl leaves it alone)", err)
	case errors.Is(err, segment.ErrCorrupt):
		return fmt.Errorf("%w (run shmctl check for details)", err)
	case errors.Is(err, segment.ErrVersion):
		return fmt.Errorf("%w (made by another version of posixshm: use a matching shmctl)", err)
	case errors.Is(err, segment.ErrNotFound):
		return fmt.Errorf("%w (shmctl info SEG lists its objects)", err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w (run shmctl as the segment's owner)", err)
	}
	return err
}

// outputOptions is the --json flag every command has.
type outputOptions struct {
	JSON bool
}

func (o *outputOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON instead of text")
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
