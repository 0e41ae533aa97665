// Package testenv starts the real components the product's tests run against, on free loopback
// ports: a kube-apiserver with its etcd (StartKube), an OpenID provider (StartOIDC), and the
// certificates they need. The OpenShift-only APIs that cannot run here come from the fake in
// the openshiftfake sub-package.
//
// Every component is a child process or an in-process server that the caller stops with Stop
// (typically in t.Cleanup or at the end of TestMain); processes are stopped by their PID only,
// and are killed by the kernel if the test binary dies first (Linux parent-death signal).
// A missing binary or node module is an error that names the command to run: tests fail, they
// do not skip.
package testenv
