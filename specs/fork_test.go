package specs_test

import "github.com/socklab/socklab/targets/fork"

// forkChild lets the fork model re-exec this test binary as a connection's
// child process: in such a child, fork.Child serves the connection on
// descriptor 3 and exits. It returns at once in the parent.
func forkChild() { fork.Child() }
