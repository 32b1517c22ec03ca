package reactor_test

import "runtime"

func runtimeLock() { runtime.LockOSThread() }
