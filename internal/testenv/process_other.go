//go:build !linux

package testenv

import "syscall"

// childAttr has no parent-death signal outside Linux: Stop is the only cleanup there.
func childAttr() *syscall.SysProcAttr { return nil }
