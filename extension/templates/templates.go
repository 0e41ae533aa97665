// Package templates holds the system dashboard templates of the four OpenShift AI
// workloads (model serving, training jobs, notebook servers, data pipelines) as typed
// Perses dashboards, and turns one into a project's dashboard: the caller names the
// workload through the template's variables, each checked against its type before it
// goes anywhere near a query. The HTTP layer (api.go) lists, shows and instantiates
// them, and clones existing dashboards; dashboards are created through upstream's
// service, so the server's schemas validate them like any other.
package templates

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/perses/spec/go/dashboard"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Sentinel errors; every error the package returns wraps one. The HTTP layer maps them
// to statuses in one place (statusOf).
var (
	// ErrUnknownTemplate: no template has that id.
	ErrUnknownTemplate = errors.New("unknown template")
	// ErrVariable: a variable is unknown, missing or has a value its type refuses.
	ErrVariable = errors.New("bad template variables")
	// ErrBadRequest: the request is malformed (body, names, parameters).
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound: the dashboard to clone does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a dashboard of the requested name already exists in the project.
	ErrExists = errors.New("already exists")
	// ErrForbidden: the caller may not create (or read) dashboards in the project.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidTemplate: a template of the registry is inconsistent (a programming
	// error, caught at start and by the tests).
	ErrInvalidTemplate = errors.New("invalid template")
)

// Category is the kind of workload a template watches.
type Category string

// The categories, one per OpenShift AI workload.
const (
	CategoryModelServing Category = "model_serving"
	CategoryTraining     Category = "training"
	CategoryNotebook     Category = "notebook"
	CategoryPipeline     Category = "pipeline"
)

var categories = []Category{CategoryModelServing, CategoryTraining, CategoryNotebook, CategoryPipeline}

// VariableType says which values a variable accepts. None of them admits a character
// that could leave a PromQL string literal or start a Perses variable reference
// (`"`, `\`, newlines, `{`, `}`, `$`, spaces), so no value can inject PromQL.
type VariableType string

// The variable types.
const (
	// TypeKubernetesName: a Kubernetes object name (DNS-1123 subdomain: lower-case
	// letters, digits, '-' and '.', at most 253 characters), e.g. a notebook or a job.
	TypeKubernetesName VariableType = "kubernetes_name"
	// TypeLabelValue: a Prometheus label value naming a workload, e.g. vLLM's served
	// model name ("granite-3.1-8b", "ibm-granite/granite-3.1-8b-instruct"): letters,
	// digits, '.', '_', '/', ':', '-', starting and ending with a letter or digit, at
	// most 253 characters.
	TypeLabelValue VariableType = "label_value"
	// TypeMetricName: a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most 200
	// characters), for the metrics a job reports itself (its loss, accuracy, throughput).
	TypeMetricName VariableType = "metric_name"
)

var (
	labelValueRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/:-]*[A-Za-z0-9])?$`)
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	// variableNameRE is what a template's own variable names look like.
	variableNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

const (
	maxLabelValue = 253
	maxMetricName = 200
)

// check returns why value is not of type t, or nil.
func (t VariableType) check(value string) error {
	switch t {
	case TypeKubernetesName:
		if errs := validation.IsDNS1123Subdomain(value); len(errs) > 0 {
			return fmt.Errorf("%q is not a Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)", value)
		}
	case TypeLabelValue:
		if len(value) > maxLabelValue || !labelValueRE.MatchString(value) {
			return fmt.Errorf("%q is not a workload label value (letters, digits, '.', '_', '/', ':' and '-', starting and ending with a letter or digit, at most %d characters)", value, maxLabelValue)
		}
	case TypeMetricName:
		if len(value) > maxMetricName || !metricNameRE.MatchString(value) {
			return fmt.Errorf("%q is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most %d characters)", value, maxMetricName)
		}
	default:
		return fmt.Errorf("unknown variable type %q", t)
	}
	return nil
}

// Variable is one value a template asks for when it is instantiated.
type Variable struct {
	// Name is how the request names it, and how the dashboard refers to it ({{.name}}).
	Name string `json:"name"`
	// Type decides which values are accepted.
	Type VariableType `json:"type"`
	// Required variables have no default: instantiation without them is refused.
	Required bool `json:"required"`
	// Label is the variable's title in a form; Description says what to enter.
	Label       string `json:"label"`
	Description string `json:"description"`
	// Default is used when an optional variable is not given.
	Default string `json:"default,omitempty"`
}

// Template is a system dashboard template: a Perses dashboard for one kind of
// workload, with {{.name}} placeholders where the instantiation's variables go (the
// dashboard's display name, its variables' default values, and the names of the
// metrics a workload reports itself).
type Template struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Category    Category   `json:"category"`
	Variables   []Variable `json:"variables"`
	// Dashboard is the Perses dashboard spec, with its placeholders.
	Dashboard dashboard.Spec `json:"dashboard"`
}

// Summary is a template without its dashboard, as the list shows it.
type Summary struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Category    Category   `json:"category"`
	Variables   []Variable `json:"variables"`
}

// Summary returns t without its dashboard.
func (t *Template) Summary() Summary {
	return Summary{ID: t.ID, Name: t.Name, Description: t.Description, Category: t.Category, Variables: slices.Clone(t.Variables)}
}

// Variable returns the variable of that name.
func (t *Template) Variable(name string) (Variable, bool) {
	for _, v := range t.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// Registry is the set of templates the server offers, in a fixed order.
type Registry struct {
	list []*Template
	byID map[string]*Template
}

// NewRegistry checks every template (see Template.Validate) and that ids are unique.
func NewRegistry(templates ...*Template) (*Registry, error) {
	r := &Registry{byID: map[string]*Template{}}
	var errs []error
	for _, t := range templates {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := r.byID[t.ID]; dup {
			errs = append(errs, fmt.Errorf("%w: id %q used twice", ErrInvalidTemplate, t.ID))
			continue
		}
		r.byID[t.ID] = t
		r.list = append(r.list, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// System returns the registry of the four system templates.
func System() (*Registry, error) {
	return NewRegistry(ModelServing(), Training(), Notebook(), DataPipeline())
}

// List returns the templates in their fixed order.
func (r *Registry) List() []*Template { return slices.Clone(r.list) }

// Get returns the template of that id.
func (r *Registry) Get(id string) (*Template, error) {
	t, ok := r.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTemplate, id, r.ids())
	}
	return t, nil
}

func (r *Registry) ids() string {
	s := ""
	for i, t := range r.list {
		if i > 0 {
			s += ", "
		}
		s += t.ID
	}
	return s
}
