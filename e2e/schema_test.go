//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// schemaCaseFile is one file of testdata/schemas: the cases of one plugin kind.
type schemaCaseFile struct {
	// Kind is the plugin kind (spec.name in the plugin's package.json), e.g. StatChart.
	Kind string `yaml:"kind"`
	// Type is the plugin type the package declares (Panel, Variable, Datasource, or a
	// query type such as TimeSeriesQuery); it decides where the spec goes in the dashboard.
	Type  string       `yaml:"type"`
	Cases []schemaCase `yaml:"cases"`
}

type schemaCase struct {
	Name string         `yaml:"name"`
	Spec map[string]any `yaml:"spec"`
	// ErrorContains is empty for a valid spec. Otherwise the server must answer 400 with a
	// message containing it (the path of the offending field, e.g. spec.format.unit).
	ErrorContains string `yaml:"errorContains"`
}

// TestPluginSchemas checks the CUE schemas of schemas/ as the server applies them: each spec
// of testdata/schemas is wrapped in the smallest dashboard that carries it and sent to
// POST /api/validate/dashboards.
func TestPluginSchemas(t *testing.T) {
	base := serverURL(t)
	for _, file := range schemaCaseFiles(t) {
		cases := loadSchemaCases(t, file)
		t.Run(cases.Kind, func(t *testing.T) {
			for _, c := range cases.Cases {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					dashboard := schemaDashboard(t, cases.Type, cases.Kind, c.Spec)
					status, message := postSchemaDashboard(t, base, dashboard)
					if c.ErrorContains == "" {
						require.Equal(t, http.StatusOK, status, "want the spec accepted, got: %s", message)
						return
					}
					require.Equal(t, http.StatusBadRequest, status, "want the spec refused, got: %s", message)
					require.Contains(t, message, c.ErrorContains)
				})
			}
		})
	}
}

// TestPluginSchemasCoverEveryKind fails when the server did not load a plugin module, or
// loaded a plugin kind that the server validates (so has a schema) without a case file here.
func TestPluginSchemasCoverEveryKind(t *testing.T) {
	covered := map[string]bool{}
	for _, file := range schemaCaseFiles(t) {
		covered[loadSchemaCases(t, file).Kind] = true
	}

	resp, err := http.Get(serverURL(t) + "/api/v1/plugins")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var modules []struct {
		Metadata struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"metadata"`
		Spec struct {
			Plugins []struct {
				Kind string `json:"kind"`
				Spec struct {
					Name string `json:"name"`
				} `json:"spec"`
			} `json:"plugins"`
		} `json:"spec"`
		Status struct {
			IsLoaded bool   `json:"isLoaded"`
			Error    string `json:"error"`
		} `json:"status"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&modules))
	require.NotEmpty(t, modules, "the server loaded no plugin module")

	var missing []string
	for _, m := range modules {
		require.True(t, m.Status.IsLoaded, "plugin module %s %s not loaded: %s", m.Metadata.Name, m.Metadata.Version, m.Status.Error)
		for _, p := range m.Spec.Plugins {
			if schemaValidated(p.Kind) && !covered[p.Spec.Name] {
				missing = append(missing, p.Spec.Name)
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "plugin kinds without a case file in testdata/schemas")
}

func schemaCaseFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "schemas", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no case file in testdata/schemas")
	return files
}

func loadSchemaCases(t *testing.T, file string) schemaCaseFile {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var f schemaCaseFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&f), file)
	require.NotEmpty(t, f.Kind, "%s: kind is missing", file)
	require.True(t, schemaValidated(f.Type), "%s: type %q is not one the server validates", file, f.Type)
	var valid, invalid int
	for _, c := range f.Cases {
		require.NotEmpty(t, c.Name, "%s: a case has no name", file)
		if c.ErrorContains == "" {
			valid++
		} else {
			invalid++
		}
	}
	require.GreaterOrEqual(t, valid, 1, "%s: needs at least one valid case", file)
	require.GreaterOrEqual(t, invalid, 3, "%s: needs at least three invalid cases", file)
	return f
}

// schemaValidated tells the plugin types the server checks against a schema.
func schemaValidated(pluginType string) bool {
	switch pluginType {
	case "Panel", "Variable", "Datasource", "Annotation":
		return true
	}
	return strings.HasSuffix(pluginType, "Query")
}

// schemaDashboard is the smallest dashboard that carries the plugin: a panel plugin, a query
// of a TimeSeriesChart panel, the plugin of a ListVariable, or a dashboard-local datasource.
func schemaDashboard(t *testing.T, pluginType, kind string, spec map[string]any) map[string]any {
	t.Helper()
	if spec == nil {
		spec = map[string]any{}
	}
	plugin := map[string]any{"kind": kind, "spec": spec}
	panels := map[string]any{}
	layouts := []any{}
	var variables []any
	datasources := map[string]any{}

	addPanel := func(panelSpec map[string]any) {
		panelSpec["display"] = map[string]any{"name": "checked"}
		panels["checked"] = map[string]any{"kind": "Panel", "spec": panelSpec}
		layouts = append(layouts, map[string]any{"kind": "Grid", "spec": map[string]any{"items": []any{
			map[string]any{"x": 0, "y": 0, "width": 12, "height": 6, "content": map[string]any{"$ref": "#/spec/panels/checked"}},
		}}})
	}
	switch {
	case pluginType == "Panel":
		addPanel(map[string]any{"plugin": plugin})
	case strings.HasSuffix(pluginType, "Query"):
		addPanel(map[string]any{
			"plugin":  map[string]any{"kind": "TimeSeriesChart", "spec": map[string]any{}},
			"queries": []any{map[string]any{"kind": pluginType, "spec": map[string]any{"plugin": plugin}}},
		})
	case pluginType == "Variable":
		variables = append(variables, map[string]any{"kind": "ListVariable", "spec": map[string]any{
			"name": "checked", "allowMultiple": false, "allowAllValue": false, "plugin": plugin,
		}})
	case pluginType == "Datasource":
		datasources["checked"] = map[string]any{"default": false, "plugin": plugin}
	default:
		t.Fatalf("no dashboard wrapping for plugin type %q", pluginType)
	}
	dashboardSpec := map[string]any{
		"display":  map[string]any{"name": "schema check"},
		"duration": "1h",
		"panels":   panels,
		"layouts":  layouts,
	}
	if len(variables) > 0 {
		dashboardSpec["variables"] = variables
	}
	if len(datasources) > 0 {
		dashboardSpec["datasources"] = datasources
	}
	return map[string]any{
		"kind":     "Dashboard",
		"metadata": map[string]any{"name": "schema-check", "project": "schema-check"},
		"spec":     dashboardSpec,
	}
}

// postSchemaDashboard posts the dashboard to the validation endpoint and returns the status
// and the error message of the answer (the raw body when it is not an error document).
func postSchemaDashboard(t *testing.T, base string, dashboard map[string]any) (int, string) {
	t.Helper()
	body, err := json.Marshal(dashboard)
	require.NoError(t, err)
	resp, err := http.Post(base+"/api/validate/dashboards", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var answer struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Message != "" {
		return resp.StatusCode, answer.Message
	}
	return resp.StatusCode, string(raw)
}
