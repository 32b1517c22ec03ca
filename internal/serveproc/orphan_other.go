//go:build !linux

package serveproc

import "os/exec"

// startDying starts cmd. There is no portable way here to tie its life to
// this process's: a server outlives a parent killed without its Stop.
func startDying(cmd *exec.Cmd) error { return cmd.Start() }
