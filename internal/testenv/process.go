package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// process is one child process whose output goes to a log file, stopped by its PID only.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

// startProcess starts bin with args, its stderr (and stdout unless stdout is given) appended
// to logPath.
func startProcess(name, logPath string, stdout io.Writer, env []string, bin string, args ...string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = log
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id, for the record (logs, debugging).
func (p *process) PID() int { return p.cmd.Process.Pid }

// waitReady polls ready every interval until it succeeds, the process (or one it depends on)
// exits, or ctx ends; the error then carries the end of the log concerned.
func (p *process) waitReady(ctx context.Context, interval time.Duration, ready func(context.Context) error, dependsOn ...*process) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		for _, q := range append([]*process{p}, dependsOn...) {
			select {
			case <-q.done:
				return fmt.Errorf("testenv: %s exited (%v) before %s was ready; its log %s ends:\n%s", q.name, q.waitErr, p.name, q.logPath, q.logTail(20))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s not ready: %w (last check: %v); its log %s ends:\n%s", p.name, ctx.Err(), last, p.logPath, p.logTail(20))
		case <-ticker.C:
		}
	}
}

// stop sends SIGTERM to the process's PID, then SIGKILL after stopGrace, and waits for it.
// Exiting on the signal is not an error.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("testenv: stop %s (pid %d): %w", p.name, p.PID(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("testenv: kill %s (pid %d): %w", p.name, p.PID(), err)
	}
	<-p.done
	return nil
}

// logTail returns the last n lines of the process's log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
