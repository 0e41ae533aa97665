//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// apiClient speaks the upstream Perses HTTP API of one server. Every call takes the
// *testing.T of the (sub)test that makes it, so a failure stops the right goroutine.
type apiClient struct {
	base  string
	http  *http.Client
	token string // sent as a bearer token when set
}

func newAPIClient(t *testing.T) *apiClient {
	t.Helper()
	return &apiClient{base: serverURL(t), http: &http.Client{Timeout: 30 * time.Second}}
}

// apiResponse is a status code and a body read in full.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResponse) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
}

// decode unmarshals the body into v, failing the test on error.
func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	require.NoErrorf(t, json.Unmarshal(r.Body, v), "decoding %s", r)
}

// do sends body (nil, string, []byte or a value to marshal as JSON) to path.
func (c *apiClient) do(t *testing.T, method, path string, body any) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, encodeBody(t, body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(t, req)
}

// doRaw sends requestURI exactly as given (no cleaning of "..", no re-encoding),
// for requests that probe how the server treats odd paths.
func (c *apiClient) doRaw(t *testing.T, method, requestURI string, body any) apiResponse {
	t.Helper()
	u, err := url.Parse(c.base)
	require.NoError(t, err)
	req, err := http.NewRequest(method, c.base+"/", encodeBody(t, body))
	require.NoError(t, err)
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + requestURI}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(t, req)
}

func (c *apiClient) send(t *testing.T, req *http.Request) apiResponse {
	t.Helper()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	require.NoErrorf(t, err, "%s %s", req.Method, req.URL)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// expect sends a request and fails the test unless the status is want.
func (c *apiClient) expect(t *testing.T, want int, method, path string, body any) apiResponse {
	t.Helper()
	r := c.do(t, method, path, body)
	require.Equalf(t, want, r.Status, "%s %s: %s", method, path, r)
	return r
}

func encodeBody(t *testing.T, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	case []byte:
		return bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		return bytes.NewReader(data)
	}
}

// uniqueName returns prefix-<8 hex>, lower-case and valid as a Perses name, so
// parallel tests never share a resource.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + "-" + hex.EncodeToString(b)
}

// createProject creates a project and deletes it (with everything in it) when the test ends.
func createProject(t *testing.T, c *apiClient, name string) {
	t.Helper()
	c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(name))
	t.Cleanup(func() {
		r := c.do(t, http.MethodDelete, "/api/v1/projects/"+name, nil)
		if r.Status != http.StatusNoContent && r.Status != http.StatusNotFound {
			t.Errorf("cleanup: DELETE project %s: %s", name, r)
		}
	})
}

// createIn creates a resource at collectionPath and deletes it when the test ends.
func createIn(t *testing.T, c *apiClient, collectionPath, name string, resource any) apiResponse {
	t.Helper()
	r := c.expect(t, http.StatusOK, http.MethodPost, collectionPath, resource)
	t.Cleanup(func() {
		d := c.do(t, http.MethodDelete, collectionPath+"/"+name, nil)
		if d.Status != http.StatusNoContent && d.Status != http.StatusNotFound {
			t.Errorf("cleanup: DELETE %s/%s: %s", collectionPath, name, d)
		}
	})
	return r
}

// object is a resource as generic JSON, so tests state exactly what they send.
type object = map[string]any

func projectResource(name string) object {
	return object{"kind": "Project", "metadata": object{"name": name}, "spec": object{}}
}

func prometheusPluginProxy(url, secret string) object {
	proxy := object{"url": url}
	if secret != "" {
		proxy["secret"] = secret
	}
	return object{"kind": "PrometheusDatasource", "spec": object{"proxy": object{"kind": "HTTPProxy", "spec": proxy}}}
}

func datasourceResource(project, name string, plugin object) object {
	return object{
		"kind":     "Datasource",
		"metadata": object{"name": name, "project": project},
		"spec":     object{"default": false, "plugin": plugin},
	}
}

func globalDatasourceResource(name string, plugin object) object {
	return object{
		"kind":     "GlobalDatasource",
		"metadata": object{"name": name},
		"spec":     object{"default": false, "plugin": plugin},
	}
}

func variableResource(project, name string, values ...string) object {
	return object{
		"kind":     "Variable",
		"metadata": object{"name": name, "project": project},
		"spec": object{
			"kind": "ListVariable",
			"spec": object{
				"name":          name,
				"allowMultiple": false,
				"allowAllValue": false,
				"plugin":        object{"kind": "StaticListVariable", "spec": object{"values": values}},
			},
		},
	}
}

func secretResource(project, name string, spec object) object {
	return object{"kind": "Secret", "metadata": object{"name": name, "project": project}, "spec": spec}
}

// dashboardFromTestdata reads a dashboard JSON file of testdata/dashboards and sets
// its project and name.
func dashboardFromTestdata(t *testing.T, file, project, name string) object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "dashboards", file))
	require.NoError(t, err)
	var d object
	require.NoError(t, json.Unmarshal(data, &d))
	d["metadata"] = object{"name": name, "project": project}
	return d
}

// markdownDashboard is the smallest dashboard the server accepts: one Markdown panel.
func markdownDashboard(project, name, text string) object {
	return object{
		"kind":     "Dashboard",
		"metadata": object{"name": name, "project": project},
		"spec": object{
			"display":  object{"name": name},
			"duration": "1h",
			"panels": object{
				"notes": object{"kind": "Panel", "spec": object{
					"display": object{"name": "Notes"},
					"plugin":  object{"kind": "Markdown", "spec": object{"text": text}},
				}},
			},
			"layouts": []any{object{"kind": "Grid", "spec": object{"items": []any{
				object{"x": 0, "y": 0, "width": 12, "height": 4, "content": object{"$ref": "#/spec/panels/notes"}},
			}}}},
		},
	}
}

// names returns metadata.name of every item of a list response.
func names(t *testing.T, r apiResponse) []string {
	t.Helper()
	var items []struct {
		Metadata struct {
			Name    string `json:"name"`
			Project string `json:"project"`
		} `json:"metadata"`
	}
	r.decode(t, &items)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Metadata.Name)
	}
	return out
}
