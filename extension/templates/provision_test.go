package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/workloads"
	"github.com/perses/common/set"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memStore keeps projects and dashboards as JSON, as a store would: what is read back
// went through a JSON round trip.
type memStore struct {
	mu         sync.Mutex
	projects   map[string][]byte
	dashboards map[string][]byte
	writes     int
	failCreate error
}

func newMemStore(projects ...string) *memStore {
	s := &memStore{projects: map[string][]byte{}, dashboards: map[string][]byte{}}
	for _, p := range projects {
		s.projects[p] = mustJSON(&v1.Project{Kind: v1.KindProject, Metadata: *v1.NewMetadata(p)})
	}
	return s
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

func (s *memStore) Project(name string) (*v1.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.projects[name]
	if !ok {
		return nil, fmt.Errorf("project %q: %w", name, ErrNotFound)
	}
	p := &v1.Project{}
	return p, json.Unmarshal(data, p)
}

func (s *memStore) UpdateProject(p *v1.Project) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[p.Metadata.Name] = mustJSON(p)
	return nil
}

func (s *memStore) Dashboard(project, name string) (*v1.Dashboard, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.dashboards[project+"/"+name]
	if !ok {
		return nil, fmt.Errorf("dashboard %q: %w", name, ErrNotFound)
	}
	d := &v1.Dashboard{}
	return d, json.Unmarshal(data, d)
}

func (s *memStore) CreateDashboard(d *v1.Dashboard) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCreate != nil {
		return s.failCreate
	}
	key := d.Metadata.Project + "/" + d.Metadata.Name
	if _, ok := s.dashboards[key]; ok {
		return fmt.Errorf("dashboard %q: %w", d.Metadata.Name, ErrExists)
	}
	s.dashboards[key] = mustJSON(d)
	s.writes++
	return nil
}

func (s *memStore) UpdateDashboard(d *v1.Dashboard) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := d.Metadata.Project + "/" + d.Metadata.Name
	old := &v1.Dashboard{}
	if err := json.Unmarshal(s.dashboards[key], old); err != nil {
		return err
	}
	d.Metadata.Version = old.Metadata.Version + 1
	s.dashboards[key] = mustJSON(d)
	s.writes++
	return nil
}

// put writes d as a user (or an older server) would, bypassing the provisioner.
func (s *memStore) put(t *testing.T, d *v1.Dashboard) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := d.Metadata.Project + "/" + d.Metadata.Name
	if data, ok := s.dashboards[key]; ok {
		old := &v1.Dashboard{}
		require.NoError(t, json.Unmarshal(data, old))
		d.Metadata.Version = old.Metadata.Version + 1
	}
	s.dashboards[key] = mustJSON(d)
}

func (s *memStore) remove(project, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dashboards, project+"/"+name)
}

// fakeLister answers from a fixed map, counting its calls.
type fakeLister struct {
	mu     sync.Mutex
	byNS   map[string]map[workloads.Type][]Workload
	failed map[workloads.Type]error
	calls  atomic.Int32
	block  chan struct{}
}

func (f *fakeLister) Workloads(_ context.Context, project string) (map[workloads.Type][]Workload, map[workloads.Type]error) {
	f.calls.Add(1)
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byNS[project], f.failed
}

func (f *fakeLister) set(project string, ws ...Workload) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byNS == nil {
		f.byNS = map[string]map[workloads.Type][]Workload{}
	}
	m := map[workloads.Type][]Workload{}
	for _, w := range ws {
		m[w.Type] = append(m[w.Type], w)
	}
	f.byNS[project] = m
}

func isvc(name string) Workload {
	return Workload{Type: workloads.ModelServing, Kind: "InferenceService", Name: name, Value: name}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type provFixture struct {
	p       *Provisioner
	store   *memStore
	lister  *fakeLister
	clock   *clock
	results []string
	mu      sync.Mutex
}

func newProvFixture(t *testing.T, projects ...string) *provFixture {
	t.Helper()
	f := &provFixture{store: newMemStore(projects...), lister: &fakeLister{}, clock: &clock{t: time.Unix(1_700_000_000, 0)}}
	f.p = &Provisioner{Registry: system(t), Store: f.store, Lister: f.lister, TTL: 10 * time.Minute, Now: f.clock.now,
		OnResult: func(template, result string) {
			f.mu.Lock()
			f.results = append(f.results, template+" "+result)
			f.mu.Unlock()
		}}
	return f
}

// pass runs a pass now (past the TTL) and returns its results.
func (f *provFixture) pass(project string) []string {
	f.clock.add(f.p.TTL + time.Second)
	f.mu.Lock()
	f.results = nil
	f.mu.Unlock()
	f.p.Ensure(context.Background(), project)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.results...)
}

func (f *provFixture) dashboard(t *testing.T, project, name string) *v1.Dashboard {
	t.Helper()
	d, err := f.store.Dashboard(project, name)
	require.NoError(t, err)
	return d
}

// provisioned is the dashboard the provisioner writes for t and value.
func provisioned(t *testing.T, tp *Template, project, value string) *v1.Dashboard {
	t.Helper()
	spec, err := instantiateFor(tp, Workload{Value: value})
	require.NoError(t, err)
	h, err := SpecHash(spec)
	require.NoError(t, err)
	d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata(project, tp.ID), Spec: spec}
	d.Metadata.Tags = set.New(TagPrefix+tp.ID, VersionTagPrefix+tp.Version(), ContentTagPrefix+h)
	return d
}

func TestDecide(t *testing.T) {
	tp := ModelServing()
	current := provisioned(t, tp, "p", "m1")

	edited := provisioned(t, tp, "p", "m1")
	edited.Spec.Display.Name = "My model"

	older := provisioned(t, tp, "p", "m1")
	older.Metadata.Tags.Remove(VersionTagPrefix + tp.Version())
	older.Metadata.Tags.Add(VersionTagPrefix + "0123456789abcdef")

	editedOlder := provisioned(t, tp, "p", "m1")
	editedOlder.Metadata.Tags = set.New(TagPrefix+tp.ID, VersionTagPrefix+"0123456789abcdef", tagValueOr(editedOlder, ContentTagPrefix))
	editedOlder.Spec.Duration = "6h"

	noVersion := provisioned(t, tp, "p", "m1")
	noVersion.Metadata.Tags.Remove(VersionTagPrefix + tp.Version())

	usersOwn := provisioned(t, tp, "p", "m1")
	usersOwn.Metadata.Tags = nil

	instantiated := provisioned(t, tp, "p", "m1") // POST …/instantiate: template tag only
	instantiated.Metadata.Tags = set.New(TagPrefix + tp.ID)

	otherTemplate := provisioned(t, Notebook(), "p", "nb") // tagged for another template
	otherTemplate.Metadata.Name = tp.ID

	for _, c := range []struct {
		name     string
		existing *v1.Dashboard
		recorded bool
		want     string
	}{
		{"missing, never created: created", nil, false, ResultCreated},
		{"missing, created before: the user deleted it", nil, true, ResultDeleted},
		{"untouched, current version", current, true, ResultCurrent},
		{"untouched, current version, not recorded (older server)", current, false, ResultCurrent},
		{"edited: never touched", edited, true, ResultEdited},
		{"untouched, older version: upgraded", older, true, ResultUpgraded},
		{"untouched, no version tag: upgraded", noVersion, true, ResultUpgraded},
		{"edited and of an older version: never touched", editedOlder, true, ResultEdited},
		{"the user's own dashboard of that name", usersOwn, false, ResultForeign},
		{"instantiated by a user (no content tag)", instantiated, false, ResultForeign},
		{"tagged for another template", otherTemplate, true, ResultForeign},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Decide(tp, c.existing, c.recorded))
		})
	}
}

func tagValueOr(d *v1.Dashboard, prefix string) string {
	return prefix + tagValue(d.Metadata.Tags, prefix)
}

func TestHashes(t *testing.T) {
	r := system(t)
	versions := map[string]bool{}
	for _, tp := range r.List() {
		v := tp.Version()
		assert.Len(t, v, hashLength)
		assert.Equal(t, v, tp.Version(), "stable")
		versions[v] = true
		assert.LessOrEqual(t, len(VersionTagPrefix+v), 50, "fits a Perses tag")
		assert.LessOrEqual(t, len(RecordTagPrefix+tp.ID), 50, "fits a Perses tag")

		// A spec hashes the same after a JSON round trip (the store's).
		spec, err := tp.Instantiate(values[tp.ID])
		require.NoError(t, err)
		h, err := SpecHash(spec)
		require.NoError(t, err)
		d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata("p", tp.ID), Spec: spec}
		back := &v1.Dashboard{}
		require.NoError(t, json.Unmarshal(mustJSON(d), back))
		h2, err := SpecHash(back.Spec)
		require.NoError(t, err)
		assert.Equal(t, h, h2, tp.ID)

		// Any change changes it.
		back.Spec.Display.Description += "."
		h3, err := SpecHash(back.Spec)
		require.NoError(t, err)
		assert.NotEqual(t, h, h3)
	}
	assert.Len(t, versions, 4)

	// A change to a template's dashboard changes its version.
	changed := ModelServing()
	changed.Dashboard.Duration = "6h"
	assert.NotEqual(t, ModelServing().Version(), changed.Version())
}

func TestProvisionCreates(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m2"), isvc("m1"),
		Workload{Type: workloads.Notebook, Kind: "Notebook", Name: "nb", Value: "nb"})

	got := f.pass("team-a")
	assert.Equal(t, []string{"model-serving created", "notebook created"}, got, "only the types present, in registry order")

	d := f.dashboard(t, "team-a", "model-serving")
	assert.Equal(t, "Model serving: m1", d.Spec.Display.Name, "the first workload by name")
	assert.True(t, d.Metadata.Tags.Contains("template:model-serving"))
	assert.True(t, d.Metadata.Tags.Contains(VersionTagPrefix+ModelServing().Version()))
	h, err := SpecHash(d.Spec)
	require.NoError(t, err)
	assert.True(t, d.Metadata.Tags.Contains(ContentTagPrefix+h), "the content hash of the spec as read back")
	_, err = f.store.Dashboard("team-a", "training")
	assert.ErrorIs(t, err, ErrNotFound, "no training job: no training dashboard")

	p, err := f.store.Project("team-a")
	require.NoError(t, err)
	assert.True(t, p.Metadata.Tags.Contains("template-provisioned:model-serving"))
	assert.True(t, p.Metadata.Tags.Contains("template-provisioned:notebook"))

	// A later pass: both untouched and current; nothing written.
	writes := f.store.writes
	assert.Equal(t, []string{"model-serving current", "notebook current"}, f.pass("team-a"))
	assert.Equal(t, writes, f.store.writes)

	// A new workload type appears: its dashboard at the next pass.
	f.lister.set("team-a", isvc("m1"), Workload{Type: workloads.Training, Kind: "PyTorchJob", Name: "job", Value: "job"})
	assert.Equal(t, []string{"model-serving current", "training created"}, f.pass("team-a"))
	assert.Equal(t, "Training: job", f.dashboard(t, "team-a", "training").Spec.Display.Name)
}

func TestProvisionNeverOverwritesEdits(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"))
	require.Equal(t, []string{"model-serving created"}, f.pass("team-a"))

	d := f.dashboard(t, "team-a", "model-serving")
	d.Spec.Display.Name = "Mine now"
	f.store.put(t, d)
	assert.Equal(t, []string{"model-serving edited"}, f.pass("team-a"))
	assert.Equal(t, "Mine now", f.dashboard(t, "team-a", "model-serving").Spec.Display.Name)

	// Edited, then the template changes: still never touched.
	d = f.dashboard(t, "team-a", "model-serving")
	d.Metadata.Tags.Remove(VersionTagPrefix + ModelServing().Version())
	d.Metadata.Tags.Add(VersionTagPrefix + "0000000000000000")
	f.store.put(t, d)
	assert.Equal(t, []string{"model-serving edited"}, f.pass("team-a"))
	assert.Equal(t, "Mine now", f.dashboard(t, "team-a", "model-serving").Spec.Display.Name)

	// A user's own dashboard of that name (no tags) is never touched either.
	f2 := newProvFixture(t, "team-b")
	f2.lister.set("team-b", isvc("m2"))
	own := provisioned(t, ModelServing(), "team-b", "x")
	own.Metadata.Tags = nil
	f2.store.put(t, own)
	assert.Equal(t, []string{"model-serving foreign"}, f2.pass("team-b"))
	p, err := f2.store.Project("team-b")
	require.NoError(t, err)
	assert.Empty(t, p.Metadata.Tags, "not recorded: the server did not write it")
}

func TestProvisionRespectsDeletion(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"))
	require.Equal(t, []string{"model-serving created"}, f.pass("team-a"))
	f.store.remove("team-a", "model-serving")
	assert.Equal(t, []string{"model-serving deleted"}, f.pass("team-a"))
	_, err := f.store.Dashboard("team-a", "model-serving")
	assert.ErrorIs(t, err, ErrNotFound, "not recreated")

	// A dashboard an older server wrote (tags, no project record) is recorded when
	// seen, so its deletion is respected too.
	f2 := newProvFixture(t, "team-b")
	f2.lister.set("team-b", isvc("m2"))
	f2.store.put(t, provisioned(t, ModelServing(), "team-b", "m2"))
	assert.Equal(t, []string{"model-serving current"}, f2.pass("team-b"))
	f2.store.remove("team-b", "model-serving")
	assert.Equal(t, []string{"model-serving deleted"}, f2.pass("team-b"))
}

func TestProvisionUpgradesUntouched(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"))

	// As an older server wrote it: another spec, its content hash, an older version.
	old := provisioned(t, ModelServing(), "team-a", "m1")
	old.Spec.Display.Description = "an older template"
	old.Spec.Panels = nil
	old.Spec.Layouts = nil
	h, err := SpecHash(old.Spec)
	require.NoError(t, err)
	old.Metadata.Tags = set.New("template:model-serving", VersionTagPrefix+"0123456789abcdef", ContentTagPrefix+h, "team")
	f.store.put(t, old)

	assert.Equal(t, []string{"model-serving upgraded"}, f.pass("team-a"))
	d := f.dashboard(t, "team-a", "model-serving")
	want := provisioned(t, ModelServing(), "team-a", "m1")
	assert.Equal(t, mustJSON(want.Spec), mustJSON(d.Spec), "the current version")
	want.Metadata.Tags.Add("team")
	assert.ElementsMatch(t, want.Metadata.Tags.TransformAsSlice(), d.Metadata.Tags.TransformAsSlice(), "version and content tags replaced, the user's kept")
	p, err := f.store.Project("team-a")
	require.NoError(t, err)
	assert.True(t, p.Metadata.Tags.Contains("template-provisioned:model-serving"))

	assert.Equal(t, []string{"model-serving current"}, f.pass("team-a"))
}

func TestProvisionMemo(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"))
	ctx := context.Background()
	f.p.Ensure(ctx, "team-a")
	f.p.Ensure(ctx, "team-a")
	f.clock.add(9 * time.Minute)
	f.p.Ensure(ctx, "team-a")
	assert.Equal(t, int32(1), f.lister.calls.Load(), "once per TTL")
	f.clock.add(2 * time.Minute)
	f.p.Ensure(ctx, "team-a")
	assert.Equal(t, int32(2), f.lister.calls.Load(), "again after the TTL")
	f.p.Forget("team-a")
	f.p.Ensure(ctx, "team-a")
	assert.Equal(t, int32(3), f.lister.calls.Load(), "again once forgotten")

	// A project Perses does not have: nothing listed, nothing remembered.
	f.p.Ensure(ctx, "nope")
	f.p.Ensure(ctx, "nope")
	assert.Equal(t, int32(3), f.lister.calls.Load())

	// Concurrent first requests: one pass.
	f2 := newProvFixture(t, "team-a")
	f2.lister.set("team-a", isvc("m1"))
	f2.lister.block = make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); f2.p.Ensure(ctx, "team-a") }()
	}
	time.Sleep(50 * time.Millisecond)
	close(f2.lister.block)
	wg.Wait()
	assert.Equal(t, int32(1), f2.lister.calls.Load())
	assert.Equal(t, 1, f2.store.writes)
}

func TestProvisionFailures(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"), Workload{Type: workloads.Notebook, Kind: "Notebook", Name: "nb", Value: "nb"})
	f.lister.failed = map[workloads.Type]error{workloads.ModelServing: errors.New("forbidden")}
	assert.Equal(t, []string{"notebook created"}, f.pass("team-a"), "a type that could not be listed is not decided on")

	f.lister.failed = nil
	f.store.failCreate = errors.New("schema says no")
	assert.Equal(t, []string{"model-serving failed", "notebook current"}, f.pass("team-a"))
	f.store.failCreate = nil
	assert.Equal(t, []string{"model-serving created", "notebook current"}, f.pass("team-a"), "tried again at the next pass")
}

func TestProvisionMiddleware(t *testing.T) {
	f := newProvFixture(t, "team-a")
	f.lister.set("team-a", isvc("m1"))
	e := echo.New()
	e.Pre(f.p.Middleware("", false))
	e.Any("/*", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	do := func(method, path string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		require.Equal(t, http.StatusOK, w.Code)
	}
	do(http.MethodGet, "/api/v1/projects")
	do(http.MethodGet, "/api/v1/dashboards")
	do(http.MethodGet, "/proxy/projects/team-a/datasources/prometheus/api/v1/query")
	assert.Equal(t, int32(0), f.lister.calls.Load(), "no project named in the API path")
	do(http.MethodGet, "/api/v1/projects/Team-A/dashboards")
	assert.Equal(t, int32(1), f.lister.calls.Load())
	_ = f.dashboard(t, "team-a", "model-serving")
	do(http.MethodGet, "/api/v1/projects/team-a")
	assert.Equal(t, int32(1), f.lister.calls.Load(), "remembered")
	do(http.MethodDelete, "/api/v1/projects/team-a")
	assert.Equal(t, int32(1), f.lister.calls.Load(), "a project's deletion does not provision it")
	do(http.MethodGet, "/api/v1/projects/team-a/dashboards")
	assert.Equal(t, int32(2), f.lister.calls.Load(), "forgotten when deleted")
}

// fakeCluster serves some resources, fails or 404s others.
type fakeCluster struct {
	served    map[string]bool
	items     map[string][]unstructured.Unstructured
	listErr   map[string]error
	forgotten []string
}

func (f *fakeCluster) Served(_ context.Context, gvr schema.GroupVersionResource) (bool, error) {
	return f.served[gvr.Resource], nil
}

func (f *fakeCluster) Forget(gvr schema.GroupVersionResource) {
	f.forgotten = append(f.forgotten, gvr.Resource)
}

func (f *fakeCluster) List(_ context.Context, cred workloads.Credential, gvr schema.GroupVersionResource, _ string) ([]unstructured.Unstructured, bool, error) {
	if !cred.Server || cred.Token != "" {
		return nil, false, errors.New("not the server's credentials")
	}
	if err := f.listErr[gvr.Resource]; err != nil {
		return nil, false, err
	}
	return f.items[gvr.Resource], false, nil
}

func obj(name string, spec map[string]any) unstructured.Unstructured {
	o := unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": name}}}
	if spec != nil {
		o.Object["spec"] = spec
	}
	return o
}

func TestClusterLister(t *testing.T) {
	c := &fakeCluster{
		served: map[string]bool{"inferenceservices": true, "llminferenceservices": true, "pytorchjobs": true, "rayjobs": true, "notebooks": true},
		items: map[string][]unstructured.Unstructured{
			"inferenceservices":    {obj("m1", nil)},
			"llminferenceservices": {obj("llm", map[string]any{"model": map[string]any{"name": "ibm-granite/granite-3.1-8b-instruct"}})},
			"pytorchjobs":          {obj("job", nil)},
		},
		listErr: map[string]error{
			"rayjobs":   apierrors.NewForbidden(schema.GroupResource{Group: "ray.io", Resource: "rayjobs"}, "", errors.New("no")),
			"notebooks": apierrors.NewNotFound(schema.GroupResource{Group: "kubeflow.org", Resource: "notebooks"}, ""),
		},
	}
	byType, failed := ClusterLister{Cluster: c}.Workloads(context.Background(), "team-a")
	assert.Equal(t, []Workload{
		{Type: workloads.ModelServing, Kind: "InferenceService", Name: "m1", Value: "m1"},
		{Type: workloads.ModelServing, Kind: "LLMInferenceService", Name: "llm", Value: "ibm-granite/granite-3.1-8b-instruct"},
	}, byType[workloads.ModelServing])
	assert.Contains(t, failed, workloads.Training, "rayjobs forbidden: training is not decided on")
	assert.Contains(t, failed[workloads.Training].Error(), "rayjobs.ray.io")
	assert.NotContains(t, failed, workloads.Notebook, "a CRD removed since discovery is no workload")
	assert.Equal(t, []string{"notebooks"}, c.forgotten)
	assert.Empty(t, byType[workloads.Pipeline], "not served: none")
}

func TestCloneLeavesProvisioningTags(t *testing.T) {
	d := provisioned(t, ModelServing(), "team-a", "m1")
	c, err := copyOf(d, "team-a", "copy", "Copy")
	require.NoError(t, err)
	assert.Equal(t, []string{"template:model-serving"}, c.Metadata.Tags.TransformAsSlice())
}
