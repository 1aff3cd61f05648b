package fusefs

import "syscall"

func syscallEIO() error { return syscall.EIO }
