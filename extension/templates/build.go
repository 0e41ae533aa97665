package templates

import (
	"fmt"
	"strings"

	"github.com/perses/spec/go/common"
	"github.com/perses/spec/go/dashboard"
	"github.com/perses/spec/go/dashboard/variable"
	"github.com/perses/spec/go/plugin"
)

// The typed specs of the plugins the templates use, written from schemas/ (the server
// validates every instantiated dashboard against those schemas; the tests check it).

// promDatasource selects the project's default Prometheus datasource: no name, so each
// project's own "prometheus" datasource (tenancy's provisioning) answers, confined to
// the project's namespace.
type promDatasource struct {
	Kind string `json:"kind"`
}

var defaultPrometheus = promDatasource{Kind: "PrometheusDatasource"}

type promQuerySpec struct {
	Datasource       promDatasource `json:"datasource"`
	Query            string         `json:"query"`
	SeriesNameFormat string         `json:"seriesNameFormat,omitempty"`
}

type formatSpec struct {
	Unit          string `json:"unit,omitempty"`
	DecimalPlaces *int   `json:"decimalPlaces,omitempty"`
}

type legendSpec struct {
	Position string   `json:"position"`
	Mode     string   `json:"mode,omitempty"`
	Values   []string `json:"values,omitempty"`
}

type yAxisSpec struct {
	Format *formatSpec `json:"format,omitempty"`
	Min    *float64    `json:"min,omitempty"`
	Max    *float64    `json:"max,omitempty"`
}

type visualSpec struct {
	Display     string   `json:"display,omitempty"`
	LineWidth   float64  `json:"lineWidth,omitempty"`
	AreaOpacity *float64 `json:"areaOpacity,omitempty"`
	Stack       string   `json:"stack,omitempty"`
}

type timeSeriesChartSpec struct {
	Legend *legendSpec `json:"legend,omitempty"`
	YAxis  *yAxisSpec  `json:"yAxis,omitempty"`
	Visual *visualSpec `json:"visual,omitempty"`
}

type statChartSpec struct {
	Calculation string      `json:"calculation"`
	Format      *formatSpec `json:"format,omitempty"`
	Sparkline   *struct{}   `json:"sparkline,omitempty"`
}

type thresholdStep struct {
	Value float64 `json:"value"`
	Color string  `json:"color,omitempty"`
}

type thresholdsSpec struct {
	Steps []thresholdStep `json:"steps"`
}

type gaugeChartSpec struct {
	Calculation string          `json:"calculation"`
	Format      *formatSpec     `json:"format,omitempty"`
	Max         *float64        `json:"max,omitempty"`
	Thresholds  *thresholdsSpec `json:"thresholds,omitempty"`
}

type barChartSpec struct {
	Calculation string      `json:"calculation"`
	Format      *formatSpec `json:"format,omitempty"`
	Sort        string      `json:"sort,omitempty"`
}

// workloadVariableSpec is OpenShiftAIWorkloadVariable's (ui-plugins/openshift-ai): the
// project's workloads of one type; fallback is offered when they cannot be listed (no
// cluster, no access), and kept among the options when the list lacks it.
type workloadVariableSpec struct {
	Type     Category `json:"type"`
	Fallback string   `json:"fallback,omitempty"`
}

// Units (core 0.52's, the only ones the shipped panels render).
var (
	unitRequests = &formatSpec{Unit: "requests/sec"}
	unitSeconds  = &formatSpec{Unit: "seconds"}
	unitBytes    = &formatSpec{Unit: "bytes"}
	unitPercent  = &formatSpec{Unit: "percent"}         // 0–100
	unitRatio    = &formatSpec{Unit: "percent-decimal"} // 0–1
	unitDecimal  = &formatSpec{Unit: "decimal"}
	unitCounts   = &formatSpec{Unit: "counts/sec"}
)

func ptr[T any](v T) *T { return &v }

// query is one PromQL query of a panel and its legend ({{label}} as Perses fills it).
type query struct {
	expr, legend string
}

func q(expr, legend string) query { return query{expr: expr, legend: legend} }

func queries(qs []query) []dashboard.Query {
	out := make([]dashboard.Query, 0, len(qs))
	for _, x := range qs {
		out = append(out, dashboard.Query{Kind: "TimeSeriesQuery", Spec: dashboard.QuerySpec{Plugin: plugin.Plugin{
			Kind: "PrometheusTimeSeriesQuery",
			Spec: promQuerySpec{Datasource: defaultPrometheus, Query: x.expr, SeriesNameFormat: x.legend},
		}}})
	}
	return out
}

func panel(name, description, kind string, spec any, qs []query) *dashboard.Panel {
	return &dashboard.Panel{Kind: "Panel", Spec: dashboard.PanelSpec{
		Display: &dashboard.PanelDisplay{Name: name, Description: description},
		Plugin:  plugin.Plugin{Kind: kind, Spec: spec},
		Queries: queries(qs),
	}}
}

// timeSeries is a line chart; stacked draws the series as stacked areas.
func timeSeries(name, description string, unit *formatSpec, stacked bool, qs ...query) *dashboard.Panel {
	spec := timeSeriesChartSpec{
		Legend: &legendSpec{Position: "bottom", Mode: "list"},
		YAxis:  &yAxisSpec{Format: unit, Min: ptr(0.0)},
	}
	if stacked {
		spec.Visual = &visualSpec{Display: "line", AreaOpacity: ptr(0.5), Stack: "all"}
	}
	return panel(name, description, "TimeSeriesChart", spec, qs)
}

// stat is the last value of one query.
func stat(name, description string, unit *formatSpec, qs ...query) *dashboard.Panel {
	return panel(name, description, "StatChart", statChartSpec{Calculation: "last-number", Format: unit, Sparkline: &struct{}{}}, qs)
}

// gauge is the last value of a 0–1 ratio, yellow from warn, red from crit.
func gauge(name, description string, warn, crit float64, qs ...query) *dashboard.Panel {
	return panel(name, description, "GaugeChart", gaugeChartSpec{
		Calculation: "last-number", Format: unitRatio, Max: ptr(1.0),
		Thresholds: &thresholdsSpec{Steps: []thresholdStep{{Value: warn, Color: "#f2c94c"}, {Value: crit, Color: "#eb5757"}}},
	}, qs)
}

// bars is one bar per series, its last value, largest first.
func bars(name, description string, unit *formatSpec, qs ...query) *dashboard.Panel {
	return panel(name, description, "BarChart", barChartSpec{Calculation: "last-number", Format: unit, Sort: "desc"}, qs)
}

// cell is a panel and its size in the 24-column grid.
type cell struct {
	key           string
	width, height int
	panel         *dashboard.Panel
}

func wide(key string, p *dashboard.Panel) cell  { return cell{key: key, width: 12, height: 8, panel: p} }
func small(key string, p *dashboard.Panel) cell { return cell{key: key, width: 6, height: 4, panel: p} }

// section is one titled grid of panels, laid out left to right, top to bottom.
type section struct {
	title string
	cells []cell
}

const gridWidth = 24

// newDashboard assembles the spec: one Grid layout per section.
func newDashboard(display, description string, vars []dashboard.Variable, sections ...section) dashboard.Spec {
	spec := dashboard.Spec{
		Display:         &common.Display{Name: display, Description: description},
		Variables:       vars,
		Panels:          map[string]*dashboard.Panel{},
		Duration:        "1h",
		RefreshInterval: "30s",
	}
	for _, s := range sections {
		var items []dashboard.GridItem
		x, y, rowHeight := 0, 0, 0
		for _, c := range s.cells {
			if _, dup := spec.Panels[c.key]; dup {
				panic(fmt.Sprintf("templates: panel %q twice in %q", c.key, display))
			}
			spec.Panels[c.key] = c.panel
			if x+c.width > gridWidth {
				x, y, rowHeight = 0, y+rowHeight, 0
			}
			items = append(items, dashboard.GridItem{
				X: x, Y: y, Width: c.width, Height: c.height,
				Content: &common.JSONRef{Ref: "#/spec/panels/" + c.key},
			})
			x += c.width
			rowHeight = max(rowHeight, c.height)
		}
		spec.Layouts = append(spec.Layouts, dashboard.Layout{Kind: dashboard.KindGridLayout, Spec: &dashboard.GridLayoutSpec{
			Display: &dashboard.GridLayoutDisplay{Title: s.title, Collapse: &dashboard.GridLayoutCollapse{Open: true}},
			Items:   items,
		}})
	}
	return spec
}

// listVariable is a dashboard variable with one value selected at first (the
// instantiation's), the other choices coming from the plugin.
func listVariable(name, display, description, defaultValue string, p plugin.Plugin) dashboard.Variable {
	return dashboard.Variable{Kind: variable.KindList, Spec: &dashboard.ListVariableSpec{
		Name: name,
		ListSpec: variable.ListSpec{
			Display:      &variable.Display{Name: display, Description: description},
			DefaultValue: &variable.DefaultValue{SingleValue: defaultValue},
			Plugin:       p,
		},
	}}
}

// workloadVariable lists the project's workloads of the category (the
// OpenShiftAIWorkloadVariable plugin, from the workloads endpoint), the instantiated one
// selected at first and offered alone when the workloads cannot be listed (no cluster):
// the dashboard shows which workload it watches, and its queries say $name.
func workloadVariable(name, display, description string, category Category, placeholder string) dashboard.Variable {
	return listVariable(name, display, description, placeholder,
		plugin.Plugin{Kind: "OpenShiftAIWorkloadVariable", Spec: workloadVariableSpec{Type: category, Fallback: placeholder}})
}

// either writes one PromQL expression per metric name (format has one %s for the name)
// joined by `or`: the first that has series wins. Each operand keeps a concrete metric
// name, so the tenancy enforcer can choose its namespace label.
func either(format string, names ...string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf(format, n))
	}
	return strings.Join(parts, " or ")
}

// placeholder is where the instantiation's value of the variable goes.
func placeholder(variable string) string { return "{{." + variable + "}}" }
