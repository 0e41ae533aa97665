//go:build e2e

// Package e2e runs the rebuilt Perses server against real components: one Prometheus
// with backfilled series (hack/prometheus/start.sh), the real bin/perses with the plugin
// archives of build/plugins, upstream's percli and Debian's Chromium driven by
// playwright-core (e2e/browser). TestMain starts one Prometheus and one Perses for the
// whole package and stops them, by PID, when the tests end.
//
// Run with `make e2e`, or `go test -tags e2e ./e2e/...` after `make build plugins`.
// Environment: PERSES_BIN, PERCLI_BIN, PLUGINS_DIR (defaults ../bin/perses, ../bin/percli,
// ../build/plugins), PROMETHEUS_BIN (default /usr/bin/prometheus), PERSES_LOG_LEVEL
// (default info) and E2E_KEEP=1 to keep the temporary folder (logs, database) afterwards.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// sharedDatasource is a GlobalDatasource pointing at the test Prometheus, besides the
	// server's own "prometheus" made from PROMETHEUS_URL. Queries through global
	// datasources are refused (they carry no project to confine them to): tests check that.
	sharedDatasource = "e2e-prometheus"
	// projectDatasource is the Prometheus datasource every project gets (tenancy's
	// provisioning, openshift_ai.tenancy.project_datasource): the default one, pointing at
	// PROMETHEUS_URL, every query through it confined to the project's namespace.
	projectDatasource = "prometheus"
	startTimeout      = 90 * time.Second
	stopTimeout       = 15 * time.Second
)

// components is what TestMain started and what the tests reach through the accessors below.
type components struct {
	repoRoot    string
	tmp         string // lower-case: the file database lower-cases the whole path
	dbFolder    string
	persesURL   string
	persesLog   string
	promURL     string
	persesBin   string
	percliBin   string
	pluginsDir  string
	store       string     // "file" or "postgres" (E2E_STORE)
	databaseURL string     // the shared server's PostgreSQL database, when store is postgres
	mu          sync.Mutex // guards processes: isolated instances start from parallel tests
	processes   []*process
}

var shared *components

// serverURL is the base URL of the shared Perses server, e.g. http://127.0.0.1:40123.
func serverURL(t *testing.T) string {
	t.Helper()
	if shared == nil || shared.persesURL == "" {
		t.Fatal("the shared Perses server is not running (TestMain did not start it)")
	}
	return shared.persesURL
}

// prometheusURL is the base URL of the shared test Prometheus.
func prometheusURL(t *testing.T) string {
	t.Helper()
	if shared == nil || shared.promURL == "" {
		t.Fatal("the shared Prometheus is not running (TestMain did not start it)")
	}
	return shared.promURL
}

// databaseFolder is the folder of the server's file database.
func databaseFolder(t *testing.T) string {
	t.Helper()
	if shared == nil || shared.dbFolder == "" {
		t.Fatal("the shared Perses server is not running (TestMain did not start it)")
	}
	return shared.dbFolder
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	c, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		if c != nil {
			c.stop(true)
		}
		return 1
	}
	shared = c
	code := m.Run()
	c.stop(code != 0)
	return code
}

func start() (*components, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	c := &components{repoRoot: root, store: storeFromEnv()}
	persesBin := binaryFromEnv("PERSES_BIN", filepath.Join(root, "bin", "perses"))
	c.percliBin = binaryFromEnv("PERCLI_BIN", filepath.Join(root, "bin", "percli"))
	c.pluginsDir = binaryFromEnv("PLUGINS_DIR", filepath.Join(root, "build", "plugins"))
	for _, p := range []string{persesBin, c.percliBin, c.pluginsDir} {
		if _, statErr := os.Stat(p); statErr != nil {
			return nil, fmt.Errorf("%s is missing: run `make build plugins` first", p)
		}
	}
	promBin := binaryFromEnv("PROMETHEUS_BIN", "/usr/bin/prometheus")
	if _, statErr := os.Stat(promBin); statErr != nil {
		return nil, fmt.Errorf("prometheus not installed (%s missing): run `make deps` (apt-get install prometheus)", promBin)
	}

	// os.MkdirTemp adds digits only, so the folder stays lower-case.
	if c.tmp, err = os.MkdirTemp("/tmp", "perses-e2e-"); err != nil {
		return nil, err
	}
	if err = c.startPrometheus(promBin); err != nil {
		return c, err
	}
	if c.store == storePostgres {
		if c.databaseURL, err = createDatabase(filepath.Base(c.tmp)); err != nil {
			return c, err
		}
	}
	if err = c.startPerses(persesBin); err != nil {
		return c, err
	}
	if err = c.createSharedDatasource(); err != nil {
		return c, fmt.Errorf("creating the shared GlobalDatasource: %w", err)
	}
	if err = c.createSharedProjects(); err != nil {
		return c, fmt.Errorf("creating the shared projects: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: Perses %s (%s store), Prometheus %s, files in %s\n", c.persesURL, c.store, c.promURL, c.tmp)
	return c, nil
}

func (c *components) startPrometheus(promBin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	dir := filepath.Join(c.tmp, "prometheus")
	if err = os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	c.promURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command("bash", filepath.Join(c.repoRoot, "hack", "prometheus", "start.sh"), dir, fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "PROMETHEUS_BIN="+promBin, "PROMTOOL_BIN="+filepath.Join(filepath.Dir(promBin), "promtool"))
	p, err := c.spawn("prometheus", cmd, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return err
	}
	// Ready means the backfilled series are queryable, not only that the HTTP port answers.
	query := c.promURL + "/api/v1/query?query=" + "count(up%7Bjob%3D%22workload%22%7D)"
	if err = p.waitHTTP(query, func(body []byte) bool { return bytes.Contains(body, []byte(`"2"]`)) }); err != nil {
		return fmt.Errorf("prometheus did not become ready: %w\n%s", err, tail(p.logPath, 30))
	}
	return nil
}

func (c *components) startPerses(persesBin string) error {
	c.persesBin = persesBin
	inst, err := c.launchPerses(c.tmp, c.databaseURL)
	if inst != nil {
		c.persesURL, c.dbFolder, c.persesLog = inst.url, inst.dbFolder, inst.logPath
	}
	return err
}

// persesInstance is one running bin/perses with its own file database.
type persesInstance struct {
	url      string
	dir      string
	dbFolder string
	logPath  string
	proc     *process
}

// launchPerses starts bin/perses with a configuration whose database, plugin runtime
// folder and log all live in dir (which must be lower-case), and waits until it is healthy.
// With a databaseURL, PostgreSQL at that URL is the store instead of the file database.
func (c *components) launchPerses(dir, databaseURL string) (*persesInstance, error) {
	return c.launchPersesWith(dir, databaseURL, launchOptions{})
}

// launchOptions change the configuration launchPerses writes.
type launchOptions struct {
	// security replaces the security section (YAML, indented by two spaces).
	security string
	// provisioning lists folders upstream provisions resources from at start.
	provisioning []string
	// openshiftAI, when set, is the openshift_ai section (YAML, indented by two spaces).
	openshiftAI string
	// env is added to the server's environment.
	env []string
	// args are added to the server's command line (e.g. --pprof).
	args []string
	// bin replaces the server binary (PERSES_BIN), e.g. to compare two builds.
	bin string
}

const openSecurity = `  enable_auth: false
  # 32 bytes; secrets are stored encrypted with it (the advisory tests check that).
  encryption_key: "e2e-only-key-0123456789abcdefghi"
  cookie:
    secure: false
`

func (c *components) launchPersesWith(dir, databaseURL string, o launchOptions) (*persesInstance, error) {
	if o.security == "" {
		o.security = openSecurity
	}
	provisioning, err := json.Marshal(o.provisioning)
	if err != nil {
		return nil, err
	}
	if o.provisioning == nil {
		provisioning = []byte("[]")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	inst := &persesInstance{
		url:      fmt.Sprintf("http://127.0.0.1:%d", port),
		dir:      dir,
		dbFolder: filepath.Join(dir, "db"),
		logPath:  filepath.Join(dir, "perses.log"),
	}
	pluginsRuntime := filepath.Join(dir, "plugins-runtime")
	for _, d := range []string{inst.dbFolder, pluginsRuntime} {
		if err = os.MkdirAll(d, 0o750); err != nil {
			return nil, err
		}
	}
	configPath := filepath.Join(dir, "perses-config.yaml")
	config := fmt.Sprintf(`database:
  file:
    folder: %q
    extension: json
    case_sensitive: false
plugin:
  path: %q
  archive_paths: [%q]
security:
%sdatasource:
  global:
    disable: false
  project:
    disable: false
provisioning:
  folders: %s
`, inst.dbFolder, pluginsRuntime, c.pluginsDir, o.security, provisioning)
	if o.openshiftAI != "" {
		config += "openshift_ai:\n" + o.openshiftAI
	}
	if err = os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	level := os.Getenv("PERSES_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	args := append([]string{"--config", configPath, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--log.level", level}, o.args...)
	bin := c.persesBin
	if o.bin != "" {
		bin = o.bin
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PROMETHEUS_URL="+c.promURL)
	if databaseURL != "" {
		cmd.Env = append(cmd.Env, "DATABASE_URL="+databaseURL)
	}
	cmd.Env = append(cmd.Env, o.env...)
	if inst.proc, err = c.spawn("perses", cmd, inst.logPath); err != nil {
		return nil, err
	}
	if err = inst.proc.waitHTTP(inst.url+"/api/v1/health", nil); err != nil {
		return inst, fmt.Errorf("perses did not become healthy: %w", err)
	}
	return inst, nil
}

// isolatedPerses starts a Perses of its own for a test that may damage its database
// (the path traversal probes), and stops it, by PID, when the test ends.
func isolatedPerses(t *testing.T) *persesInstance {
	t.Helper()
	if shared == nil {
		t.Fatal("TestMain did not run")
	}
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-isolated-")
	if err != nil {
		t.Fatal(err)
	}
	databaseURL := ""
	if shared.store == storePostgres {
		if databaseURL, err = createDatabase(filepath.Base(dir)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropDatabase(filepath.Base(dir)) })
	}
	return launchForTest(t, dir, databaseURL, launchOptions{})
}

// launchForTest starts a Perses of the test's own in dir (see launchPersesWith) and stops
// it, by PID, when the test ends; dir is kept when the test failed or E2E_KEEP is set.
func launchForTest(t *testing.T, dir, databaseURL string, o launchOptions) *persesInstance {
	t.Helper()
	inst, err := shared.launchPersesWith(dir, databaseURL, o)
	t.Cleanup(func() {
		if inst != nil && inst.proc != nil {
			inst.proc.stop()
		}
		if t.Failed() || os.Getenv("E2E_KEEP") != "" {
			t.Logf("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(filepath.Join(dir, "perses.log"), 40))
	}
	return inst
}

func (c *components) createSharedDatasource() error {
	body := fmt.Sprintf(`{"kind":"GlobalDatasource","metadata":{"name":%q},"spec":{"default":false,
"display":{"name":"e2e Prometheus"},
"plugin":{"kind":"PrometheusDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":%q}}}}}}`, sharedDatasource, c.promURL)
	resp, err := http.Post(c.persesURL+"/api/v1/globaldatasources", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /api/v1/globaldatasources: %d %s", resp.StatusCode, got)
	}
	return nil
}

// sharedProjects are the projects of the namespaces the test Prometheus has data for.
// TestMain creates them on the shared server (tests use them and never delete them),
// and lists their datasources, which gives each its Prometheus datasource "prometheus"
// (the tenancy capability's provisioning), confined to the project's namespace.
var sharedProjects = []string{"team-a", "team-b"}

func (c *components) createSharedProjects() error {
	for _, p := range sharedProjects {
		body := fmt.Sprintf(`{"kind":"Project","metadata":{"name":%q}}`, p)
		resp, err := http.Post(c.persesURL+"/api/v1/projects", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /api/v1/projects %s: %d %s", p, resp.StatusCode, got)
		}
		if resp, err = http.Get(c.persesURL + "/api/v1/projects/" + p + "/datasources/" + projectDatasource); err != nil {
			return err
		}
		got, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the project datasource of %s was not provisioned: %d %s", p, resp.StatusCode, got)
		}
	}
	return nil
}

// stop ends every process this suite started, by PID, newest first. The temporary
// folder is kept when the run failed or E2E_KEEP is set, so its logs can be read.
func (c *components) stop(failed bool) {
	c.mu.Lock()
	procs := append([]*process(nil), c.processes...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	if c.databaseURL != "" && !failed {
		dropDatabase(filepath.Base(c.tmp))
	}
	if c.tmp == "" {
		return
	}
	if failed {
		if c.persesLog != "" {
			fmt.Fprintf(os.Stderr, "e2e: last lines of %s:\n%s\n", c.persesLog, tail(c.persesLog, 40))
		}
		// Keep logs, config and database; drop Prometheus' blocks and WAL (tens of MB).
		_ = os.RemoveAll(filepath.Join(c.tmp, "prometheus", "tsdb"))
		fmt.Fprintf(os.Stderr, "e2e: kept %s for inspection\n", c.tmp)
		return
	}
	if os.Getenv("E2E_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "e2e: kept %s (E2E_KEEP)\n", c.tmp)
		return
	}
	_ = os.RemoveAll(c.tmp)
}

// process is one child process with its log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	waitErr error
	stopped sync.Once
}

func (c *components) spawn(name string, cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Children die with the test binary even if it is killed before TestMain's cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err = cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.processes = append(c.processes, p)
	c.mu.Unlock()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitHTTP polls url until it answers 200 (and ok accepts the body, when given),
// failing early when the process exits.
func (p *process) waitHTTP(url string, ok func(body []byte) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (ok == nil || ok(body)) {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no healthy answer from %s within %s (last: %s)", p.name, url, startTimeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the process (by its PID), then SIGKILL after stopTimeout.
func (p *process) stop() {
	p.stopped.Do(func() {
		defer p.logFile.Close()
		if p.exited() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

func binaryFromEnv(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		if abs, err := filepath.Abs(v); err == nil {
			return abs
		}
		return v
	}
	return fallback
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("unexpected listener address")
	}
	return addr.Port, nil
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
