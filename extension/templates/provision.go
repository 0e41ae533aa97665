package templates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/workloads"
	"github.com/perses/common/set"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/spec/go/dashboard"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Tags of auto-provisioning. A provisioned dashboard is named after its template's id
// and carries TagPrefix+id, VersionTagPrefix+<the template's version> and
// ContentTagPrefix+<hash of the spec written>; the project carries RecordTagPrefix+id
// once the server created that dashboard there. Every tag fits Perses' 50 characters.
const (
	VersionTagPrefix = "template-version:"
	ContentTagPrefix = "template-content:"
	RecordTagPrefix  = "template-provisioned:"
	// hashLength is the hex digits kept of a SHA-256 (64 bits).
	hashLength = 16
	// maxTags is Perses' limit of tags per resource (metadata.tags).
	maxTags = 20
	// passTimeout bounds one project's provisioning pass.
	passTimeout = 30 * time.Second
)

// Results of a provisioning decision, the label of the provisioning counter.
const (
	// ResultCreated: the dashboard was missing and the server never created it: created.
	ResultCreated = "created"
	// ResultUpgraded: untouched since the server wrote it, of an older template
	// version: replaced by the current version.
	ResultUpgraded = "upgraded"
	// ResultCurrent: untouched and of the current version: nothing to do.
	ResultCurrent = "current"
	// ResultEdited: changed since the server wrote it (its spec no longer hashes to
	// the recorded content hash): never touched again.
	ResultEdited = "edited"
	// ResultDeleted: missing, but the server created it once: the user deleted it,
	// it is not recreated.
	ResultDeleted = "deleted"
	// ResultForeign: a dashboard of that name the server did not write (no content
	// tag, or another template's): left alone.
	ResultForeign = "foreign"
	// ResultFailed: the write (or its check) failed; tried again at the next pass.
	ResultFailed = "failed"
)

// Version is the template's version: a hash of what it generates (its dashboard
// with placeholders, and its variables), so any change to the template's code that
// changes a dashboard changes it.
func (t *Template) Version() string {
	data, err := json.Marshal(struct {
		Variables []Variable     `json:"variables"`
		Dashboard dashboard.Spec `json:"dashboard"`
	}{t.Variables, t.Dashboard})
	if err != nil {
		// Validate marshalled it at start: cannot happen for a registered template.
		panic(fmt.Sprintf("templates: %s does not marshal: %v", t.ID, err))
	}
	return shortHash(data)
}

// SpecHash is a dashboard spec's content hash: SHA-256 of its canonical JSON (keys
// sorted, numbers as float64), so a spec hashes the same before it is written and
// after it is read back from any store.
func SpecHash(spec dashboard.Spec) (string, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return "", err
	}
	if data, err = json.Marshal(tree); err != nil {
		return "", err
	}
	return shortHash(data), nil
}

func shortHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:hashLength]
}

// tagValue returns the value of the tag of that prefix ("" when none).
func tagValue(tags set.Set[string], prefix string) string {
	for tag := range tags {
		if v, ok := strings.CutPrefix(tag, prefix); ok {
			return v
		}
	}
	return ""
}

// Decide says what provisioning does with the dashboard named after t in a project:
// existing is the dashboard of that name (nil when there is none), recorded whether
// the server created it there before. Pure: the tests drive it directly.
//
//   - missing, never created → created; missing, created before → deleted (the user
//     deleted it: never recreated);
//   - present without our content tag, or tagged for another template → foreign;
//   - its spec no longer hashes to its content tag → edited (never touched);
//   - untouched, version tag current → current; otherwise → upgraded.
func Decide(t *Template, existing *v1.Dashboard, recorded bool) string {
	if existing == nil {
		if recorded {
			return ResultDeleted
		}
		return ResultCreated
	}
	tags := existing.Metadata.Tags
	content := tagValue(tags, ContentTagPrefix)
	if content == "" || !tags.Contains(TagPrefix+t.ID) {
		return ResultForeign
	}
	if h, err := SpecHash(existing.Spec); err != nil || h != content {
		return ResultEdited
	}
	if tagValue(tags, VersionTagPrefix) == t.Version() {
		return ResultCurrent
	}
	return ResultUpgraded
}

// Workload is what provisioning needs of a workload: its type, name, and the value
// its template's required variable takes (the served model name of a model server,
// the name otherwise).
type Workload struct {
	Type  workloads.Type
	Kind  string
	Name  string
	Value string
}

// WorkloadLister lists a project's workloads with the server's own credentials.
type WorkloadLister interface {
	// Workloads returns the project's workloads by type. A type whose listing failed
	// (in part) is in failed, with why; it is not decided on.
	Workloads(ctx context.Context, project string) (byType map[workloads.Type][]Workload, failed map[workloads.Type]error)
}

// ProvisionStore is the store as provisioning uses it. Dashboard and Project return
// errors wrapping ErrNotFound for what does not exist.
type ProvisionStore interface {
	Project(name string) (*v1.Project, error)
	UpdateProject(p *v1.Project) error
	Dashboard(project, name string) (*v1.Dashboard, error)
	// CreateDashboard validates (plugin schemas) and stores d; a name in use wraps ErrExists.
	CreateDashboard(d *v1.Dashboard) error
	// UpdateDashboard validates and replaces d (metadata version and times updated).
	UpdateDashboard(d *v1.Dashboard) error
}

// Provisioner gives projects the template dashboards of the workload types they run
// (see the package README, "Auto-provisioning").
type Provisioner struct {
	Registry *Registry
	Store    ProvisionStore
	Lister   WorkloadLister
	// TTL is how long a project is left alone after a pass.
	TTL time.Duration
	// OnResult, when set, is told of every decision (template id, result).
	OnResult func(template, result string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	checked map[string]time.Time
	running map[string]chan struct{}
}

func (p *Provisioner) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Ensure runs a pass over project unless one ran within TTL; concurrent callers for
// the same project wait for the one pass. A project Perses does not have (yet) is
// not remembered.
func (p *Provisioner) Ensure(ctx context.Context, project string) {
	p.mu.Lock()
	if p.checked == nil {
		p.checked, p.running = map[string]time.Time{}, map[string]chan struct{}{}
	}
	if until, ok := p.checked[project]; ok && p.now().Before(until) {
		p.mu.Unlock()
		return
	}
	if ch, ok := p.running[project]; ok {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	ch := make(chan struct{})
	p.running[project] = ch
	p.mu.Unlock()

	remember := p.pass(ctx, project)

	p.mu.Lock()
	delete(p.running, project)
	if remember {
		p.checked[project] = p.now().Add(p.TTL)
	}
	p.mu.Unlock()
	close(ch)
}

// Forget drops what is remembered of project (it was deleted).
func (p *Provisioner) Forget(project string) {
	p.mu.Lock()
	delete(p.checked, project)
	p.mu.Unlock()
}

// pass provisions project once; false when it should not be remembered (no such
// project, or the pass was cut short).
func (p *Provisioner) pass(ctx context.Context, project string) bool {
	if _, err := p.Store.Project(project); err != nil {
		if !errors.Is(err, ErrNotFound) {
			logrus.WithError(err).Warnf("templates: auto-provisioning: cannot read project %q", project)
		}
		return false
	}
	byType, failed := p.Lister.Workloads(ctx, project)
	for typ, err := range failed {
		logrus.WithError(err).Warnf("templates: auto-provisioning: cannot list the %s workloads of project %q with the server's credentials; not provisioned", typ, project)
	}
	for _, t := range p.Registry.List() {
		typ := workloads.Type(t.Category)
		if _, bad := failed[typ]; bad || len(byType[typ]) == 0 {
			continue
		}
		if ctx.Err() != nil {
			return false
		}
		p.result(t.ID, p.provision(project, t, byType[typ]))
	}
	return ctx.Err() == nil
}

func (p *Provisioner) result(template, result string) {
	if p.OnResult != nil {
		p.OnResult(template, result)
	}
}

// provision makes sure the dashboard of t exists in project, for the first workload
// of list by name, and returns the decision's result.
func (p *Provisioner) provision(project string, t *Template, list []Workload) string {
	log := logrus.WithFields(logrus.Fields{"project": project, "template": t.ID})
	existing, err := p.Store.Dashboard(project, t.ID)
	if errors.Is(err, ErrNotFound) {
		existing, err = nil, nil
	}
	if err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot read the dashboard")
		return ResultFailed
	}
	proj, err := p.Store.Project(project)
	if err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot read the project")
		return ResultFailed
	}
	recorded := proj.Metadata.Tags.Contains(RecordTagPrefix + t.ID)
	result := Decide(t, existing, recorded)
	switch result {
	case ResultCreated, ResultUpgraded:
	case ResultCurrent, ResultEdited:
		// Ours (it carries our tags): remember it, so that a deletion is respected even
		// when an older server or another replica wrote it.
		if !recorded {
			p.record(proj, t.ID, log)
		}
		return result
	default:
		return result
	}

	w := first(list)
	spec, err := instantiateFor(t, w)
	if err != nil {
		log.WithError(err).Warnf("templates: auto-provisioning: cannot instantiate for %s %q", w.Kind, w.Name)
		return ResultFailed
	}
	content, err := SpecHash(spec)
	if err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot hash the dashboard")
		return ResultFailed
	}
	version := t.Version()

	if result == ResultCreated {
		d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata(project, t.ID), Spec: spec}
		d.Metadata.Tags = set.New(TagPrefix+t.ID, VersionTagPrefix+version, ContentTagPrefix+content)
		if err := p.Store.CreateDashboard(d); err != nil {
			if errors.Is(err, ErrExists) {
				return ResultCurrent // written meanwhile (another replica, or the user): next pass decides
			}
			log.WithError(err).Warn("templates: auto-provisioning: cannot create the dashboard")
			return ResultFailed
		}
		p.record(proj, t.ID, log)
		log.Infof("templates: auto-provisioning: created dashboard %q for %s %q (template version %s)", t.ID, w.Kind, w.Name, version)
		return ResultCreated
	}

	// Upgrade: read again just before writing, so that an edit made since the decision
	// is not overwritten (the store has no compare-and-swap; the window left is the
	// time of one write).
	again, err := p.Store.Dashboard(project, t.ID)
	if err != nil || again.Metadata.Version != existing.Metadata.Version || Decide(t, again, true) != ResultUpgraded {
		log.Info("templates: auto-provisioning: the dashboard changed while it was being upgraded; left alone")
		return ResultEdited
	}
	old := tagValue(again.Metadata.Tags, VersionTagPrefix)
	d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: again.Metadata, Spec: spec}
	tags := set.New[string]()
	for tag := range again.Metadata.Tags {
		if !strings.HasPrefix(tag, VersionTagPrefix) && !strings.HasPrefix(tag, ContentTagPrefix) {
			tags.Add(tag)
		}
	}
	tags.Add(VersionTagPrefix+version, ContentTagPrefix+content)
	d.Metadata.Tags = tags
	if err := p.Store.UpdateDashboard(d); err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot upgrade the dashboard")
		return ResultFailed
	}
	if !recorded {
		p.record(proj, t.ID, log)
	}
	log.Infof("templates: auto-provisioning: upgraded dashboard %q from template version %s to %s", t.ID, old, version)
	return ResultUpgraded
}

// record notes on the project that the server created the dashboard of id there.
func (p *Provisioner) record(proj *v1.Project, id string, log *logrus.Entry) {
	fresh, err := p.Store.Project(proj.Metadata.Name)
	if err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot record the dashboard on the project")
		return
	}
	if fresh.Metadata.Tags.Contains(RecordTagPrefix + id) {
		return
	}
	if len(fresh.Metadata.Tags) >= maxTags {
		log.Warnf("templates: auto-provisioning: project has %d tags, cannot add %s%s: a deletion of the dashboard will not be remembered", len(fresh.Metadata.Tags), RecordTagPrefix, id)
		return
	}
	if fresh.Metadata.Tags == nil {
		fresh.Metadata.Tags = set.New[string]()
	}
	fresh.Metadata.Tags.Add(RecordTagPrefix + id)
	if err := p.Store.UpdateProject(fresh); err != nil {
		log.WithError(err).Warn("templates: auto-provisioning: cannot record the dashboard on the project")
	}
}

// first is the workload the dashboard opens on: the first by name (then kind).
func first(list []Workload) Workload {
	sorted := append([]Workload(nil), list...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Kind < sorted[j].Kind
	})
	return sorted[0]
}

// instantiateFor instantiates t with w as the value of its required variable (its
// other variables take their defaults).
func instantiateFor(t *Template, w Workload) (dashboard.Spec, error) {
	values := map[string]string{}
	for _, v := range t.Variables {
		if v.Required {
			values[v.Name] = w.Value
		}
	}
	return t.Instantiate(values)
}

// Middleware runs a pass over the project a request names (/api/v1/projects/{p}[/…])
// before upstream serves it, so that the project's dashboard list already holds them.
// It goes after the access capability's guard (a refused request never gets here).
// Deleting a project forgets it.
func (p *Provisioner) Middleware(apiPrefix string, caseSensitive bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rest, ok := strings.CutPrefix(strings.TrimPrefix(c.Request().URL.Path, apiPrefix), "/api/v1/projects/")
			if !ok {
				return next(c)
			}
			project, _, _ := strings.Cut(rest, "/")
			if !caseSensitive {
				project = strings.ToLower(project)
			}
			switch {
			case project == "":
			case c.Request().Method == http.MethodDelete && !strings.Contains(rest, "/"):
				p.Forget(project)
			default:
				ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), passTimeout)
				p.Ensure(ctx, project)
				cancel()
			}
			return next(c)
		}
	}
}

// ClusterLister lists workloads through the workloads capability's cluster access,
// with the server's own credentials.
type ClusterLister struct{ Cluster workloads.Cluster }

// Workloads lists every workload resource in project. A resource whose CRD is not
// installed counts as empty; any other failure marks its type failed.
func (l ClusterLister) Workloads(ctx context.Context, project string) (map[workloads.Type][]Workload, map[workloads.Type]error) {
	byType := map[workloads.Type][]Workload{}
	failed := map[workloads.Type]error{}
	for _, r := range workloads.Resources {
		served, err := l.Cluster.Served(ctx, r.GVR)
		if err != nil {
			failed[r.Type] = errors.Join(failed[r.Type], fmt.Errorf("discovery of %s: %w", r.CRD(), err))
			continue
		}
		if !served {
			continue
		}
		items, _, err := l.Cluster.List(ctx, workloads.Credential{Server: true}, r.GVR, project)
		if apierrors.IsNotFound(err) {
			l.Cluster.Forget(r.GVR) // the CRD was removed since discovery
			continue
		}
		if err != nil {
			failed[r.Type] = errors.Join(failed[r.Type], fmt.Errorf("listing %s: %w", r.CRD(), err))
			continue
		}
		for i := range items {
			o := &items[i]
			if workloads.CheckName(o.GetName()) != nil {
				continue
			}
			byType[r.Type] = append(byType[r.Type], Workload{Type: r.Type, Kind: r.Kind, Name: o.GetName(), Value: variableValue(r, o)})
		}
	}
	return byType, failed
}

// variableValue is what the template's required variable takes for o: the model name
// vLLM reports for a model server (an LLMInferenceService's spec.model.name when set
// and a label value), the object's name otherwise.
func variableValue(r workloads.Resource, o *unstructured.Unstructured) string {
	if r.Kind == "LLMInferenceService" {
		if n, _, _ := unstructured.NestedString(o.Object, "spec", "model", "name"); n != "" && TypeLabelValue.check(n) == nil {
			return n
		}
	}
	return o.GetName()
}
