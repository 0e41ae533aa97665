package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// QueryFunc runs one Prometheus API request for a dashboard of a project, through the
// named datasource ("" the default), confined to the project (tenancy's Proxy.Query).
type QueryFunc func(ctx context.Context, project, dashboard, datasource, apiPath string, form url.Values) (status int, body []byte, err error)

// LoadFunc reads a dashboard; ErrNotFound when it does not exist.
type LoadFunc func(project, name string) (*Dashboard, error)

// Key is what streams share a poller by.
type Key struct {
	Project, Dashboard string
	// Vars is Canonical of the stream's variables.
	Vars string
	// Range and Interval are what the stream asked for; 0 follows the dashboard.
	Range, Interval time.Duration
}

// Event is one server-sent event; Data is JSON on one line.
type Event struct {
	Type string
	Data []byte
}

// Event types.
const (
	EventDashboard = "dashboard"
	EventPanel     = "panel"
	EventHeartbeat = "heartbeat"
	EventClose     = "close"
)

// Reasons a stream ends, as the close event and the metrics say them.
const (
	ReasonDeleted  = "deleted"
	ReasonSlow     = "slow"
	ReasonShutdown = "shutdown"
	ReasonAccess   = "access"
	ReasonClient   = "client"
)

// Subscription is one stream's place at a poller. C delivers batches of events (all
// the panels of one poll, or one dashboard change); it is closed when the stream must
// end, Reason then says why.
type Subscription struct {
	C      <-chan []Event
	c      chan []Event
	hub    *Hub
	poller *poller
	reason string
	detail string
}

// Reason is why C was closed (ReasonDeleted, ReasonSlow, ReasonShutdown) and a sentence
// for the client.
func (s *Subscription) Reason() (string, string) { return s.reason, s.detail }

// Close leaves the poller (stopping it when s was its last subscriber).
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	p := s.poller
	if _, ok := p.subs[s]; ok {
		h.remove(p, s, ReasonClient, "the stream ended")
	}
}

// Hub runs one poller per Key while it has subscribers.
type Hub struct {
	Query QueryFunc
	Load  LoadFunc
	// DefaultInterval and MinInterval: the interval of dashboards without
	// refreshInterval, and the least one a dashboard gets.
	DefaultInterval, MinInterval time.Duration
	// Buffer is how many batches a subscriber may lag behind before it is dropped.
	Buffer int
	// Concurrency bounds the queries of one poll run at once.
	Concurrency int
	// OnQuery is told of every backend query (ok: Prometheus answered success).
	OnQuery func(ok bool)
	// OnPollers is told when a poller starts (+1) or stops (-1).
	OnPollers func(delta int)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	pollers map[Key]*poller
	closed  bool
}

// DefaultBuffer is the subscriber buffer of NewHub.
const DefaultBuffer = 8

// NewHub returns a hub querying with query and reading dashboards with load.
func NewHub(query QueryFunc, load LoadFunc, defaultInterval, minInterval time.Duration) *Hub {
	return &Hub{Query: query, Load: load, DefaultInterval: defaultInterval, MinInterval: minInterval, Buffer: DefaultBuffer, Concurrency: 4}
}

// Interval is the refresh interval of a dashboard for a stream that asked for asked (0:
// the dashboard's): the dashboard's refreshInterval, else the default, never below
// the minimum.
func (h *Hub) Interval(d *Dashboard, asked time.Duration) time.Duration {
	iv := asked
	if iv == 0 && d != nil {
		iv = d.RefreshInterval
	}
	if iv == 0 {
		iv = h.DefaultInterval
	}
	iv = max(iv, h.MinInterval)
	if iv <= 0 {
		iv = DefaultHubInterval
	}
	return iv
}

// DefaultHubInterval is the interval of a hub configured with none.
const DefaultHubInterval = 15 * time.Second

// Range is the time range of a dashboard for a stream that asked for asked (0: the
// dashboard's duration, else DefaultRange).
func Range(d *Dashboard, asked time.Duration) time.Duration {
	if asked > 0 {
		return asked
	}
	if d != nil && d.Duration > 0 {
		return d.Duration
	}
	return DefaultRange
}

// Subscribe joins (or starts) the poller of key; vars are the stream's variables
// (whose Canonical is key.Vars). The latest poll's events, if any, are delivered first.
func (h *Hub) Subscribe(key Key, vars map[string][]string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.pollers == nil {
		h.pollers = map[Key]*poller{}
	}
	p, ok := h.pollers[key]
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		p = &poller{hub: h, key: key, vars: vars, subs: map[*Subscription]struct{}{}, wake: make(chan struct{}, 1), cancel: cancel}
		h.pollers[key] = p
		if h.OnPollers != nil {
			h.OnPollers(1)
		}
		go p.run(ctx)
	}
	buf := max(h.Buffer, 1)
	c := make(chan []Event, buf)
	s := &Subscription{C: c, c: c, hub: h, poller: p}
	p.subs[s] = struct{}{}
	if p.last != nil {
		c <- p.last
	}
	return s, nil
}

// Notify tells the pollers of a dashboard (every dashboard of the project when name is
// "") that it may have changed: they reload it at once.
func (h *Hub) Notify(project, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, p := range h.pollers {
		if k.Project == project && (name == "" || k.Dashboard == name) {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Close ends every stream (the server is stopping) and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, p := range h.pollers {
		h.endAll(p, ReasonShutdown, "the server is shutting down; reconnect")
	}
}

// Pollers is how many pollers run.
func (h *Hub) Pollers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pollers)
}

// remove takes s from p (h.mu held), closing its channel, and stops p when it was the last.
func (h *Hub) remove(p *poller, s *Subscription, reason, detail string) {
	delete(p.subs, s)
	s.reason, s.detail = reason, detail
	close(s.c)
	if len(p.subs) == 0 {
		h.stop(p)
	}
}

// endAll ends every subscription of p (h.mu held).
func (h *Hub) endAll(p *poller, reason, detail string) {
	for s := range p.subs {
		h.remove(p, s, reason, detail)
	}
	h.stop(p)
}

// stop stops p (h.mu held); its goroutine ends at its next step.
func (h *Hub) stop(p *poller) {
	if h.pollers[p.key] != p {
		return
	}
	delete(h.pollers, p.key)
	p.cancel()
	if h.OnPollers != nil {
		h.OnPollers(-1)
	}
}

// fanOut hands batch to every subscriber of p without waiting: one whose buffer is
// full is dropped, not waited for.
func (h *Hub) fanOut(p *poller, batch []Event, keep bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollers[p.key] != p {
		return
	}
	if keep {
		p.last = batch
	}
	for s := range p.subs {
		select {
		case s.c <- batch:
		default:
			h.remove(p, s, ReasonSlow, "the client did not keep up with the events; reconnect")
		}
	}
}

func (h *Hub) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// poller queries one Key's panels once per interval for all its subscribers.
type poller struct {
	hub    *Hub
	key    Key
	vars   map[string][]string
	wake   chan struct{}
	cancel context.CancelFunc
	// guarded by hub.mu
	subs map[*Subscription]struct{}
	last []Event
}

func (p *poller) run(ctx context.Context) {
	h := p.hub
	var d *Dashboard
	interval := h.Interval(nil, p.key.Interval)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for first := true; ; first = false {
		woken := false
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			case <-p.wake:
				woken = true
			}
		}
		nd, err := h.Load(p.key.Project, p.key.Dashboard)
		if errors.Is(err, ErrNotFound) {
			p.deleted(ctx)
			return
		}
		if err != nil {
			logrus.WithError(err).Warnf("live: cannot read dashboard %s/%s; trying again in %s", p.key.Project, p.key.Dashboard, interval)
			continue
		}
		changed := d != nil && d.changed(nd)
		if changed {
			h.fanOut(p, []Event{changeEvent(nd)}, false)
		}
		if woken && d != nil && !changed {
			continue // a write that changed nothing here: the next tick polls
		}
		d = nd
		if iv := h.Interval(d, p.key.Interval); iv != interval || woken {
			// a new interval, or a poll out of turn (the dashboard changed): the next
			// poll is one interval after this one
			interval = iv
			ticker.Reset(interval)
		}
		batch := p.poll(ctx, d, interval)
		if ctx.Err() != nil {
			return
		}
		if len(batch) > 0 {
			h.fanOut(p, batch, true)
		}
	}
}

// deleted tells the subscribers the dashboard is gone and ends their streams.
func (p *poller) deleted(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	data, _ := json.Marshal(map[string]any{"project": p.key.Project, "name": p.key.Dashboard, "deleted": true})
	h := p.hub
	h.fanOut(p, []Event{{Type: EventDashboard, Data: data}}, false)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollers[p.key] == p {
		h.endAll(p, ReasonDeleted, fmt.Sprintf("dashboard %s/%s was deleted", p.key.Project, p.key.Dashboard))
	}
}

func changeEvent(d *Dashboard) Event {
	data, _ := json.Marshal(map[string]any{"project": d.Project, "name": d.Name, "version": d.Version, "updatedAt": d.UpdatedAt})
	return Event{Type: EventDashboard, Data: data}
}

// Result is one query's outcome in a panel event.
type Result struct {
	Query  int             `json:"query"`
	Status string          `json:"status"` // success, error, skipped
	Data   json.RawMessage `json:"data,omitempty"`
	Error  string          `json:"error,omitempty"`
	Note   string          `json:"note,omitempty"`
	// Step is the resolution the query ran at, in seconds.
	Step int64 `json:"step,omitempty"`
}

// PanelData is the data of a panel event.
type PanelData struct {
	Panel   string    `json:"panel"`
	Results []Result  `json:"results"`
	Time    time.Time `json:"time"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// poll runs every query of d once and returns one panel event per panel with queries.
func (p *poller) poll(ctx context.Context, d *Dashboard, interval time.Duration) []Event {
	h := p.hub
	ctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	end := h.now().Truncate(time.Second)
	rng := Range(d, p.key.Range)
	start := end.Add(-rng)
	vars := p.values(d)

	type job struct{ panel, query int }
	panels := make([][]Result, len(d.Panels))
	var jobs []job
	for i, panel := range d.Panels {
		panels[i] = make([]Result, len(panel.Queries))
		for j := range panel.Queries {
			jobs = append(jobs, job{i, j})
		}
	}
	sem := make(chan struct{}, max(h.Concurrency, 1))
	var wg sync.WaitGroup
	for _, jb := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			panels[jb.panel][jb.query] = p.run1(ctx, d, jb.query, d.Panels[jb.panel].Queries[jb.query], vars, rng, start, end)
		}()
	}
	wg.Wait()

	var batch []Event
	now := h.now()
	for i, panel := range d.Panels {
		if len(panel.Queries) == 0 {
			continue
		}
		data, err := json.Marshal(PanelData{Panel: panel.Key, Results: panels[i], Time: now.UTC(), Start: start.UTC(), End: end.UTC()})
		if err != nil {
			continue
		}
		batch = append(batch, Event{Type: EventPanel, Data: data})
	}
	return batch
}

// values are the stream's variables, completed with the dashboard's defaults.
func (p *poller) values(d *Dashboard) map[string][]string {
	vars := make(map[string][]string, len(p.vars)+len(d.Defaults))
	for k, v := range d.Defaults {
		vars[k] = v
	}
	for k, v := range p.vars {
		vars[k] = v
	}
	return vars
}

// run1 runs one query.
func (p *poller) run1(ctx context.Context, d *Dashboard, index int, q Query, vars map[string][]string, rng time.Duration, start, end time.Time) Result {
	r := Result{Query: index}
	if q.Kind != PrometheusQueryKind {
		r.Status, r.Note = "skipped", fmt.Sprintf("query kind %q is not run by live updates (only %s)", q.Kind, PrometheusQueryKind)
		return r
	}
	if q.Expr == "" {
		r.Status, r.Note = "skipped", "empty query"
		return r
	}
	for _, name := range References(q.Expr) {
		if _, given := p.vars[name]; given {
			continue
		}
		for _, v := range d.Defaults[name] {
			if err := CheckValue(name, v); err != nil {
				r.Status, r.Error = "error", fmt.Sprintf("the default value of variable %q is refused: give it with var-%s", name, name)
				return r
			}
		}
	}
	step := Step(rng, q.MinStep)
	expr := Substitute(q.Expr, vars, Builtins(rng, step, q.MinStep))
	form := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {strconv.FormatInt(int64(step.Seconds()), 10)},
	}
	r.Step = int64(step.Seconds())
	status, body, err := p.hub.Query(ctx, d.Project, d.Name, q.Datasource, "/api/v1/query_range", form)
	ok := false
	defer func() {
		if p.hub.OnQuery != nil {
			p.hub.OnQuery(ok)
		}
	}()
	if err != nil {
		r.Status, r.Error = "error", err.Error()
		return r
	}
	var answer struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if jerr := json.Unmarshal(body, &answer); jerr != nil {
		r.Status, r.Error = "error", fmt.Sprintf("the datasource answered %d without a Prometheus answer", status)
		return r
	}
	if status != 200 || answer.Status != "success" {
		msg := answer.Error
		if msg == "" {
			msg = fmt.Sprintf("the datasource answered %d", status)
		}
		r.Status, r.Error = "error", msg
		return r
	}
	ok = true
	r.Status, r.Data = "success", answer.Data
	return r
}
