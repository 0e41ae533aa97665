// Command benchstore measures the server on three stores in one run: upstream's file
// database, upstream's SQL database on MariaDB, and ours on PostgreSQL. Each store is
// seeded with the same dashboards (default 10,000 across 100 projects), then one
// bin/perses per store serves the same requests: get one dashboard, list a project
// (full and metadata-only), create, update. It prints throughput and p50/p99 per cell,
// and ours as a ratio of each peer. `make bench` runs it; it is not part of make test.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/store/postgres"
	"github.com/perses/perses/pkg/extend"
	upstreamConfig "github.com/perses/perses/pkg/model/api/config"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/secret"
)

var (
	dashboards  = flag.Int("dashboards", 10000, "dashboards to seed in each store")
	projects    = flag.Int("projects", 100, "projects they are spread over")
	duration    = flag.Duration("duration", 5*time.Second, "how long each operation runs against each store")
	concurrency = flag.Int("concurrency", 4, "concurrent clients")
	persesBin   = flag.String("perses", "bin/perses", "the server binary")
	plugins     = flag.String("plugins", "build/plugins", "the plugin archives")
	pgAdmin     = flag.String("postgres", "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL admin URL")
	mysqlAddr   = flag.String("mysql", "127.0.0.1:3306", "MariaDB address (user root, no password)")
	only        = flag.String("only", "", "run only the operations whose name contains this")
)

type store struct {
	name     string
	database string // the database section of the server's config (YAML)
	env      []string
	seed     func() (extend.DAO, error)
	url      string
	proc     *exec.Cmd
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchstore:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	work, err := os.MkdirTemp("/tmp", "perses-benchstore-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			_ = os.RemoveAll(work)
		}
	}()
	dbName := "perses_bench_" + fmt.Sprint(time.Now().Unix())

	fileFolder := filepath.Join(work, "filedb")
	pgURL, err := withDatabase(*pgAdmin, dbName)
	if err != nil {
		return err
	}
	stores := []*store{
		{
			name:     "file (upstream)",
			database: fmt.Sprintf("database: {file: {folder: %q, extension: json}}", fileFolder),
			seed: func() (extend.DAO, error) {
				return extend.NewUpstreamDAO(upstreamConfig.Database{File: &upstreamConfig.File{Folder: fileFolder, Extension: upstreamConfig.JSONExtension}})
			},
		},
		{
			name:     "MariaDB (upstream SQL)",
			database: fmt.Sprintf("database: {sql: {user: root, net: tcp, addr: %q, db_name: %s}}", *mysqlAddr, dbName),
			seed: func() (extend.DAO, error) {
				db, err := sql.Open("mysql", "root@tcp("+*mysqlAddr+")/")
				if err != nil {
					return nil, err
				}
				defer db.Close()
				if _, err := db.Exec("CREATE DATABASE " + dbName); err != nil {
					return nil, fmt.Errorf("MariaDB at %s: %w (start it: start-stop-daemon --start --background --exec /usr/sbin/mariadbd)", *mysqlAddr, err)
				}
				return extend.NewUpstreamDAO(upstreamConfig.Database{SQL: &upstreamConfig.SQL{User: "root", Net: "tcp", Addr: secret.Hidden(*mysqlAddr), DBName: dbName}})
			},
		},
		{
			name:     "PostgreSQL (ours)",
			database: "",
			env:      []string{"DATABASE_URL=" + pgURL},
			seed: func() (extend.DAO, error) {
				if err := adminExec(*pgAdmin, "CREATE DATABASE "+dbName); err != nil {
					return nil, err
				}
				return postgres.New(context.Background(), config.Postgres{URL: config.Secret(pgURL), MaxConns: 10,
					StatementTimeout: config.Duration(5 * time.Second), ConnectTimeout: config.Duration(5 * time.Second)})
			},
		},
	}
	defer func() {
		for _, s := range stores {
			if s.proc != nil && s.proc.Process != nil {
				_ = s.proc.Process.Signal(syscall.SIGTERM)
				_, _ = s.proc.Process.Wait()
			}
		}
		_ = adminExec(*pgAdmin, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
		if db, err := sql.Open("mysql", "root@tcp("+*mysqlAddr+")/"); err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + dbName)
			_ = db.Close()
		}
	}()

	for _, s := range stores {
		start := time.Now()
		dao, err := s.seed()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := dao.Init(); err != nil {
			return fmt.Errorf("%s: init: %w", s.name, err)
		}
		if err := seed(dao); err != nil {
			return fmt.Errorf("%s: seeding: %w", s.name, err)
		}
		_ = dao.Close()
		fmt.Fprintf(os.Stderr, "seeded %s with %d dashboards in %s\n", s.name, *dashboards, time.Since(start).Round(time.Millisecond))
		if err := s.start(work); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		// Measure every store warm: the file store's documents are in the page cache and
		// MariaDB's in its buffer pool since seeding; read each once so that ours are in
		// the replica's document cache too.
		start = time.Now()
		if err := s.warm(); err != nil {
			return fmt.Errorf("%s: warming up: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "warmed %s up in %s\n", s.name, time.Since(start).Round(time.Millisecond))
	}

	ops := []struct {
		name string
		req  func(base string, r *rand.Rand, n int64) (*http.Request, error)
	}{
		{"get one", func(base string, r *rand.Rand, _ int64) (*http.Request, error) {
			p, d := r.IntN(*projects), r.IntN(*dashboards / *projects)
			return http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards/d%05d", base, p, p*(*dashboards / *projects)+d), nil)
		}},
		{"list project (full)", func(base string, r *rand.Rand, _ int64) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards", base, r.IntN(*projects)), nil)
		}},
		{"list project (metadata)", func(base string, r *rand.Rand, _ int64) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards?metadata_only=true", base, r.IntN(*projects)), nil)
		}},
		{"create", func(base string, r *rand.Rand, n int64) (*http.Request, error) {
			p := r.IntN(*projects)
			return jsonRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards", base, p), dashboard(fmt.Sprintf("p%03d", p), fmt.Sprintf("new-%d", n)))
		}},
		{"update", func(base string, r *rand.Rand, _ int64) (*http.Request, error) {
			p, d := r.IntN(*projects), r.IntN(*dashboards / *projects)
			name := fmt.Sprintf("d%05d", p*(*dashboards / *projects)+d)
			return jsonRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards/%s", base, p, name), dashboard(fmt.Sprintf("p%03d", p), name))
		}},
	}

	fmt.Printf("\n%d dashboards across %d projects per store; %d clients; %s per cell\n\n", *dashboards, *projects, *concurrency, *duration)
	fmt.Printf("%-24s %-24s %10s %9s %9s %12s\n", "operation", "store", "req/s", "p50 ms", "p99 ms", "errors")
	for _, op := range ops {
		if !strings.Contains(op.name, *only) {
			continue
		}
		results := map[string]result{}
		for _, s := range stores {
			res := measure(s.url, op.req)
			results[s.name] = res
			fmt.Printf("%-24s %-24s %10.0f %9.2f %9.2f %12d\n", op.name, s.name, res.rps, ms(res.p50), ms(res.p99), res.errors)
		}
		ours := results[stores[2].name]
		for _, peer := range stores[:2] {
			pr := results[peer.name]
			fmt.Printf("%-24s %-24s %9.2fx %8.2fx %8.2fx   (ours / peer: throughput, p50, p99)\n", "", "ours vs "+strings.Fields(peer.name)[0], ours.rps/pr.rps, ratio(ours.p50, pr.p50), ratio(ours.p99, pr.p99))
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

func measure(base string, build func(string, *rand.Rand, int64) (*http.Request, error)) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 30 * time.Second}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   atomic.Int64
		seq    atomic.Int64
		wg     sync.WaitGroup
		done   = time.Now().Add(*duration)
		starts = time.Now()
	)
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(done) {
				req, err := build(base, r, seq.Add(1))
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode >= 300 {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(starts)
	slices.Sort(lat)
	res := result{errors: errs.Load(), rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		res.p50 = lat[len(lat)*50/100]
		res.p99 = lat[len(lat)*99/100]
	}
	return res
}

func jsonRequest(method, url string, body any) (*http.Request, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// dashboard is a small but real dashboard: one Markdown panel in a grid.
func dashboard(project, name string) map[string]any {
	return map[string]any{
		"kind":     "Dashboard",
		"metadata": map[string]any{"name": name, "project": project},
		"spec": map[string]any{
			"duration": "1h",
			"panels": map[string]any{"notes": map[string]any{"kind": "Panel", "spec": map[string]any{
				"display": map[string]any{"name": "Notes"},
				"plugin":  map[string]any{"kind": "Markdown", "spec": map[string]any{"text": "Runbook for " + name}},
			}}},
			"layouts": []any{map[string]any{"kind": "Grid", "spec": map[string]any{"items": []any{map[string]any{
				"x": 0, "y": 0, "width": 12, "height": 6, "content": map[string]any{"$ref": "#/spec/panels/notes"},
			}}}}},
		},
	}
}

func seed(dao extend.DAO) error {
	per := *dashboards / *projects
	for p := 0; p < *projects; p++ {
		project := &v1.Project{Kind: v1.KindProject, Metadata: v1.Metadata{Name: fmt.Sprintf("p%03d", p)}}
		project.Metadata.CreateNow()
		if err := dao.Create(project); err != nil {
			return err
		}
		for d := 0; d < per; d++ {
			raw, err := json.Marshal(dashboard(project.Metadata.Name, fmt.Sprintf("d%05d", p*per+d)))
			if err != nil {
				return err
			}
			entity := &v1.Dashboard{}
			if err := json.Unmarshal(raw, entity); err != nil {
				return err
			}
			entity.Metadata.CreateNow()
			if err := dao.Create(entity); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *store) start(work string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := filepath.Join(work, strings.Fields(strings.ToLower(s.name))[0])
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	cfg := fmt.Sprintf("%s\nplugin: {path: %q, archive_paths: [%q]}\nsecurity: {enable_auth: false, encryption_key: \"bench-only-key-0123456789abcdefg\", cookie: {secure: false}}\nopenshift_ai: {prometheus: {datasource_name: ''}}\n",
		s.database, filepath.Join(dir, "plugins-runtime"), *plugins)
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "perses.log"))
	if err != nil {
		return err
	}
	s.proc = exec.Command(*persesBin, "--config", cfgFile, "--web.listen-address", addr, "--log.level", "error")
	s.proc.Env = append(os.Environ(), s.env...)
	s.proc.Stdout, s.proc.Stderr = logFile, logFile
	s.proc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.proc.Start(); err != nil {
		return err
	}
	s.url = "http://" + addr
	for range 300 {
		if resp, err := http.Get(s.url + "/api/v1/health"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server on %s did not become healthy; see %s", s.name, logFile.Name())
}

// warm reads every seeded dashboard once, with the benchmark's concurrency.
func (s *store) warm() error {
	per := *dashboards / *projects
	next := atomic.Int64{}
	errs := make(chan error, *concurrency)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *dashboards {
					return
				}
				resp, err := http.Get(fmt.Sprintf("%s/api/v1/projects/p%03d/dashboards/d%05d", s.url, i/per, i))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("dashboard %d: %s", i, resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func withDatabase(adminURL, db string) (string, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgresql://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, db), nil
}

func adminExec(adminURL, statement string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", adminURL, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, statement)
	return err
}
