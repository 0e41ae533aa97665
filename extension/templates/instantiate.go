package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/perses/spec/go/dashboard"
	"k8s.io/apimachinery/pkg/util/validation"
)

// placeholderRE is where an instantiation variable goes: {{.name}}. The dot sets it
// apart from the legend format of queries ({{label}}), which Perses fills itself.
var placeholderRE = regexp.MustCompile(`\{\{\.([a-z][a-z0-9_]*)\}\}`)

// Resolve checks values against the template's variables and returns every variable's
// value (given, or its default). An unknown variable, a missing required one or a
// value its type refuses is an ErrVariable naming each variable concerned.
func (t *Template) Resolve(values map[string]string) (map[string]string, error) {
	var problems []string
	for name := range values {
		if _, ok := t.Variable(name); !ok {
			problems = append(problems, fmt.Sprintf("variable %q is not a variable of template %q (it has %s)", name, t.ID, t.variableNames()))
		}
	}
	out := make(map[string]string, len(t.Variables))
	for _, v := range t.Variables {
		value, given := values[v.Name]
		switch {
		case !given && v.Required:
			problems = append(problems, fmt.Sprintf("variable %q (%s) is required", v.Name, v.Label))
			continue
		case !given:
			value = v.Default
		}
		if err := v.Type.check(value); err != nil {
			problems = append(problems, fmt.Sprintf("variable %q: %v", v.Name, err))
			continue
		}
		out[v.Name] = value
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%w: %s", ErrVariable, strings.Join(problems, "; "))
	}
	return out, nil
}

func (t *Template) variableNames() string {
	names := make([]string, 0, len(t.Variables))
	for _, v := range t.Variables {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// Instantiate returns the template's dashboard with the variables in place (see
// Resolve for what is refused). The result is a copy: the template is not changed.
func (t *Template) Instantiate(values map[string]string) (dashboard.Spec, error) {
	resolved, err := t.Resolve(values)
	if err != nil {
		return dashboard.Spec{}, err
	}
	return substitute(t.Dashboard, resolved)
}

// substitute writes values into every string of spec that holds a placeholder, through
// the spec's JSON form (which also copies it), and reads it back with the spec's own
// validation.
func substitute(spec dashboard.Spec, values map[string]string) (dashboard.Spec, error) {
	tree, err := toTree(spec)
	if err != nil {
		return dashboard.Spec{}, err
	}
	var missing []string
	tree = mapStrings(tree, func(s string) string {
		return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
			name := placeholderRE.FindStringSubmatch(m)[1]
			v, ok := values[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			return v
		})
	})
	if len(missing) > 0 {
		return dashboard.Spec{}, fmt.Errorf("%w: placeholders without a variable: %s", ErrInvalidTemplate, strings.Join(missing, ", "))
	}
	data, err := json.Marshal(tree)
	if err != nil {
		return dashboard.Spec{}, err
	}
	var out dashboard.Spec
	if err := json.Unmarshal(data, &out); err != nil {
		return dashboard.Spec{}, fmt.Errorf("%w: the instantiated dashboard does not read back: %v", ErrInvalidTemplate, err)
	}
	return out, nil
}

// toTree is spec as generic JSON values (numbers kept as written).
func toTree(spec dashboard.Spec) (any, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTemplate, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTemplate, err)
	}
	return tree, nil
}

// mapStrings applies f to every string value of a JSON tree (not to object keys).
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = mapStrings(x[i], f)
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = mapStrings(x[k], f)
		}
		return x
	}
	return v
}

// placeholders lists the placeholder names used in spec, once each, sorted.
func placeholders(spec dashboard.Spec) ([]string, error) {
	tree, err := toTree(spec)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	mapStrings(tree, func(s string) string {
		for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
		return s
	})
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Validate checks the template's own consistency: id, category, variables (names,
// types, defaults of their type, required exactly when there is no default), that
// every placeholder is a variable and every variable is used, that only metric-name
// variables are written into queries (any other value reaches a query only through a
// dashboard variable), and that the dashboard instantiates.
func (t *Template) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w %q: %s", ErrInvalidTemplate, t.ID, fmt.Sprintf(format, args...)))
	}
	if msgs := validation.IsDNS1123Label(t.ID); len(msgs) > 0 {
		add("id: %s", strings.Join(msgs, "; "))
	}
	if t.Name == "" || t.Description == "" {
		add("name and description are required")
	}
	if !slices.Contains(categories, t.Category) {
		add("category %q is not one of %v", t.Category, categories)
	}
	sample := map[string]string{}
	for _, v := range t.Variables {
		if !variableNameRE.MatchString(v.Name) {
			add("variable name %q does not match %s", v.Name, variableNameRE)
		}
		if _, dup := sample[v.Name]; dup {
			add("variable %q declared twice", v.Name)
		}
		if v.Label == "" || v.Description == "" {
			add("variable %q needs a label and a description", v.Name)
		}
		switch {
		case v.Required && v.Default != "":
			add("variable %q is required and has a default", v.Name)
		case !v.Required && v.Default == "":
			add("variable %q is optional and has no default", v.Name)
		}
		value := v.Default
		if v.Required {
			value = sampleValue(v.Type)
		}
		if err := v.Type.check(value); err != nil {
			add("variable %q: %v", v.Name, err)
		}
		sample[v.Name] = value
	}
	used, err := placeholders(t.Dashboard)
	if err != nil {
		return err
	}
	for _, name := range used {
		if _, ok := sample[name]; !ok {
			add("placeholder {{.%s}} is not a variable", name)
		}
	}
	for _, v := range t.Variables {
		if !slices.Contains(used, v.Name) {
			add("variable %q is not used by the dashboard", v.Name)
		}
	}
	queries, err := PanelQueries(t.Dashboard)
	if err != nil {
		add("%v", err)
	}
	if len(queries) == 0 {
		add("the dashboard has no query")
	}
	for _, q := range queries {
		for _, m := range placeholderRE.FindAllStringSubmatch(q.Query, -1) {
			if v, ok := t.Variable(m[1]); ok && v.Type != TypeMetricName {
				add("panel %q writes {{.%s}} (%s) into its query: only metric names may be; other values go through a dashboard variable", q.Panel, m[1], v.Type)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := t.Instantiate(sampleValues(t)); err != nil {
		return fmt.Errorf("%w %q: with sample values: %v", ErrInvalidTemplate, t.ID, err)
	}
	return nil
}

func sampleValue(t VariableType) string {
	if t == TypeMetricName {
		return "sample_metric"
	}
	return "sample-name"
}

func sampleValues(t *Template) map[string]string {
	out := map[string]string{}
	for _, v := range t.Variables {
		if v.Required {
			out[v.Name] = sampleValue(v.Type)
		}
	}
	return out
}

// PanelQuery is one query of a dashboard panel.
type PanelQuery struct {
	// Panel is the panel's key in spec.panels, Title its display name, Index the
	// query's position in the panel.
	Panel string `json:"panel"`
	Title string `json:"title"`
	Index int    `json:"index"`
	// Kind is the query plugin's kind (PrometheusTimeSeriesQuery).
	Kind string `json:"kind"`
	// Query is the PromQL as stored: dashboard variables ($name) not yet interpolated.
	Query string `json:"query"`
}

// PanelQueries lists the queries of a dashboard's panels, by panel key then position.
func PanelQueries(spec dashboard.Spec) ([]PanelQuery, error) {
	data, err := json.Marshal(spec.Panels)
	if err != nil {
		return nil, err
	}
	var panels map[string]struct {
		Spec struct {
			Display *struct {
				Name string `json:"name"`
			} `json:"display"`
			Queries []struct {
				Spec struct {
					Plugin struct {
						Kind string `json:"kind"`
						Spec struct {
							Query string `json:"query"`
						} `json:"spec"`
					} `json:"plugin"`
				} `json:"spec"`
			} `json:"queries"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(data, &panels); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(panels))
	for k := range panels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []PanelQuery
	for _, k := range keys {
		p := panels[k]
		title := k
		if p.Spec.Display != nil && p.Spec.Display.Name != "" {
			title = p.Spec.Display.Name
		}
		for i, q := range p.Spec.Queries {
			out = append(out, PanelQuery{Panel: k, Title: title, Index: i, Kind: q.Spec.Plugin.Kind, Query: q.Spec.Plugin.Spec.Query})
		}
	}
	return out, nil
}

// VariableDefaults returns the default (single) value of each of the dashboard's list
// and text variables: what the dashboard shows when it opens.
func VariableDefaults(spec dashboard.Spec) (map[string]string, error) {
	data, err := json.Marshal(spec.Variables)
	if err != nil {
		return nil, err
	}
	var vars []struct {
		Kind string `json:"kind"`
		Spec struct {
			Name         string          `json:"name"`
			Value        string          `json:"value"`
			DefaultValue json.RawMessage `json:"defaultValue"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(data, &vars); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, v := range vars {
		value := v.Spec.Value
		if len(v.Spec.DefaultValue) > 0 {
			if err := json.Unmarshal(v.Spec.DefaultValue, &value); err != nil {
				return nil, fmt.Errorf("variable %q: only single default values are read: %v", v.Spec.Name, err)
			}
		}
		out[v.Spec.Name] = value
	}
	return out, nil
}

// variableRefRE finds $name and ${name} references to dashboard variables.
var variableRefRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_-]+)\}|\$([a-zA-Z0-9_]+)`)

// Interpolate replaces the $name and ${name} references to dashboard variables in a
// query by their single values, as the stock UI does for a variable with one value
// selected. References to unknown variables are left as they are.
func Interpolate(query string, values map[string]string) string {
	return variableRefRE.ReplaceAllStringFunc(query, func(m string) string {
		sub := variableRefRE.FindStringSubmatch(m)
		name := sub[1]
		if name == "" {
			name = sub[2]
		}
		if v, ok := values[name]; ok {
			return v
		}
		return m
	})
}
