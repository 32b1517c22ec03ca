// Command socklab checks socket servers for correctness and measures their
// latency across concurrency models.
//
//	socklab serve   run a reference target (a model speaking a protocol)
//	socklab models  list the models, their networks, protocols and capacity
//	socklab load    drive a server with load and record its latency
//	socklab bench   run the benchmark matrix over the reference targets
//	socklab report  render or merge load results
//	socklab check   check a server against the behaviour catalogue
//
// Each subcommand has -h help with an example. Only this package exits.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/socklab/socklab/targets/fork"
)

// command is one subcommand. run parses args itself with a FlagSet named
// after the command and returns errUsage (wrapped) for bad input.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands []command

// register adds a subcommand; each subcommand's file calls it from init.
func register(c command) { commands = append(commands, c) }

// errUsage marks an error caused by bad input: socklab prints it on one line
// and exits 2.
var errUsage = errors.New("usage")

// usageError wraps a bad-input error so main exits 2.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

func main() {
	// A child of the fork model serves its connection and exits here.
	fork.Child()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	slices.SortFunc(commands, func(a, b command) int { return strings.Compare(a.name, b.name) })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			var st *exitStatus
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, &st):
				fmt.Fprintf(stderr, "socklab %s: %s\n", c.name, st.msg)
				return st.code
			case errors.Is(err, errUsage):
				fmt.Fprintf(stderr, "socklab %s: %s\n", c.name, strings.TrimPrefix(err.Error(), "usage: "))
				return 2
			default:
				fmt.Fprintf(stderr, "socklab %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "socklab: unknown command %q (valid: %s)\n", args[0], strings.Join(names(), ", "))
	return 2
}

func names() []string {
	var ns []string
	for _, c := range commands {
		ns = append(ns, c.name)
	}
	return ns
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "socklab: a conformance and load-testing harness for socket servers")
	fmt.Fprintln(w, "\nusage: socklab COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'socklab COMMAND -h' for a command's flags and an example.")
}

// newFlagSet returns a FlagSet for a subcommand whose -h prints the summary,
// an example and the flags, and whose parse errors are usage errors.
func newFlagSet(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("socklab "+name, flag.ContinueOnError)
	// The flag package prints its error and the usage on every parse
	// error; socklab prints one line for bad input instead (see parse), and
	// the full usage only for -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: socklab %s %s\n\nexample:\n  %s\n\nflags:\n", name, synopsis, example)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args into fs, for a command that takes no positional
// arguments, and rejects stray ones (see parseArgs).
func parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	return nil
}

// parseArgs parses args into fs and returns the positional arguments. Flags
// may come before, between or after them (socklab load ADDR --json), as
// with most command-line tools; after "--" every argument is positional. A
// bad flag is a usage error of one line that points to --help: the full
// usage is printed only for -h.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, usageError("%v (see 'socklab %s --help')", err, strings.TrimPrefix(fs.Name(), "socklab "))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
