// Package live streams live dashboard updates as server-sent events: a `dashboard`
// event when the dashboard is saved or deleted, a `panel` event with each panel's query
// results at the dashboard's refresh interval, and heartbeats. However many viewers a
// dashboard has, one poller per (dashboard, variables, range, interval) queries the
// backend once per interval and fans the results out (Hub); every query goes through
// the tenancy capability, confined to the project's namespace. The HTTP layer
// (API) authenticates, authorises (and re-checks while the stream is open), bounds the
// streams per user and writes the events.
package live

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/tidwall/gjson"
)

// Errors of the package; API.httpError maps them to statuses.
var (
	// ErrBadRequest: a parameter of the stream request is refused.
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound: the dashboard does not exist (or no longer does).
	ErrNotFound = errors.New("dashboard not found")
	// ErrClosed: the hub is shutting down.
	ErrClosed = errors.New("live updates are shutting down")
)

// PrometheusQueryKind is the only query plugin kind a poller runs: its queries can be
// confined to the project's namespace. Other kinds are reported as skipped.
const PrometheusQueryKind = "PrometheusTimeSeriesQuery"

// Dashboard is what a poller needs of a dashboard.
type Dashboard struct {
	Project, Name string
	Version       uint64
	UpdatedAt     time.Time
	// RefreshInterval and Duration are the dashboard's spec.refreshInterval and
	// spec.duration; 0 when it sets none.
	RefreshInterval time.Duration
	Duration        time.Duration
	// Panels are sorted by key.
	Panels []Panel
	// Defaults are the dashboard's variables' default values (a list variable's
	// defaultValue, a text variable's value), used for variables the stream does not give.
	Defaults map[string][]string
}

// Panel is one panel and its queries, in the dashboard's order.
type Panel struct {
	Key     string
	Queries []Query
}

// Query is one panel query.
type Query struct {
	// Kind is the query plugin's kind (PrometheusTimeSeriesQuery).
	Kind string
	// Expr is the PromQL with its variables not yet substituted.
	Expr string
	// Datasource names the datasource; "" is the default Prometheus datasource.
	Datasource string
	// MinStep is the query's minStep (0: the default 15 s).
	MinStep time.Duration
}

// changed says whether b is another save of the dashboard than a.
func (d *Dashboard) changed(b *Dashboard) bool {
	return d.Version != b.Version || !d.UpdatedAt.Equal(b.UpdatedAt)
}

// ParseDashboard reads a dashboard resource as upstream serialises it.
func ParseDashboard(raw []byte) (*Dashboard, error) {
	if !gjson.ValidBytes(raw) {
		return nil, errors.New("the dashboard is not JSON")
	}
	doc := gjson.ParseBytes(raw)
	d := &Dashboard{
		Project:  doc.Get("metadata.project").String(),
		Name:     doc.Get("metadata.name").String(),
		Version:  doc.Get("metadata.version").Uint(),
		Defaults: map[string][]string{},
	}
	if s := doc.Get("metadata.updatedAt").String(); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("metadata.updatedAt %q: %w", s, err)
		}
		d.UpdatedAt = t
	}
	var err error
	if d.RefreshInterval, err = optionalDuration(doc.Get("spec.refreshInterval").String()); err != nil {
		return nil, fmt.Errorf("spec.refreshInterval: %w", err)
	}
	if d.Duration, err = optionalDuration(doc.Get("spec.duration").String()); err != nil {
		return nil, fmt.Errorf("spec.duration: %w", err)
	}
	doc.Get("spec.panels").ForEach(func(key, panel gjson.Result) bool {
		p := Panel{Key: key.String()}
		panel.Get("spec.queries").ForEach(func(_, q gjson.Result) bool {
			plugin := q.Get("spec.plugin")
			query := Query{
				Kind:       plugin.Get("kind").String(),
				Expr:       plugin.Get("spec.query").String(),
				Datasource: plugin.Get("spec.datasource.name").String(),
			}
			// A minStep that does not parse is the default, as in the Prometheus plugin.
			query.MinStep, _ = optionalDuration(plugin.Get("spec.minStep").String())
			p.Queries = append(p.Queries, query)
			return true
		})
		d.Panels = append(d.Panels, p)
		return true
	})
	slices.SortFunc(d.Panels, func(a, b Panel) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	doc.Get("spec.variables").ForEach(func(_, v gjson.Result) bool {
		name := v.Get("spec.name").String()
		var value gjson.Result
		switch v.Get("kind").String() {
		case "ListVariable":
			value = v.Get("spec.defaultValue")
		case "TextVariable":
			value = v.Get("spec.value")
		}
		switch {
		case name == "" || !value.Exists():
		case value.IsArray():
			for _, x := range value.Array() {
				d.Defaults[name] = append(d.Defaults[name], x.String())
			}
		default:
			d.Defaults[name] = []string{value.String()}
		}
		return true
	})
	return d, nil
}

// optionalDuration parses a Perses duration string ("30s", "1h", "1d"); "" is 0.
func optionalDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return time.Duration(d), nil
}
