package testenv

import "syscall"

// childAttr makes the kernel kill a child when the test binary dies, so no component outlives
// a crashed or killed test run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
