//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/openshift-ai/observability/extension/apidoc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditRecord is a record as GET /api/v1/audit and the JSON lines show it.
type auditRecord struct {
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Groups    []string  `json:"groups"`
	Source    string    `json:"source"`
	RequestID string    `json:"request_id"`
	Action    string    `json:"action"`
	Kind      string    `json:"kind"`
	Project   string    `json:"project"`
	Name      string    `json:"name"`
	Status    int       `json:"status"`
}

type auditPage struct {
	Items    []auditRecord `json:"items"`
	Continue string        `json:"continue"`
}

// auditRead reads every page of a query, limit records at a time.
func auditRead(t *testing.T, c *apiClient, query url.Values, limit int) []auditRecord {
	t.Helper()
	query.Set("limit", fmt.Sprint(limit))
	var out []auditRecord
	for range 200 {
		var p auditPage
		c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/audit?"+query.Encode(), nil).decode(t, &p)
		require.LessOrEqual(t, len(p.Items), limit)
		out = append(out, p.Items...)
		if p.Continue == "" {
			return out
		}
		query.Set("continue", p.Continue)
	}
	t.Fatal("audit paging does not end")
	return nil
}

// TestAuditDevelopment runs a server in development mode with audit on, on the pass's
// store: PostgreSQL (records in perses_audit and on standard output) or the file
// database (records in a JSON lines file, read back by the API).
func TestAuditDevelopment(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-audit-")
	require.NoError(t, err)
	databaseURL, auditFile := "", ""
	section := "  audit:\n    enabled: true\n"
	if shared.store == storePostgres {
		databaseURL, err = createDatabase(filepath.Base(dir))
		require.NoError(t, err)
		t.Cleanup(func() { dropDatabase(filepath.Base(dir)) })
	} else {
		auditFile = filepath.Join(dir, "audit.jsonl")
		section += fmt.Sprintf("    file: %q\n", auditFile)
	}
	inst := launchForTest(t, dir, databaseURL, launchOptions{openshiftAI: section, env: []string{"DEVELOPMENT_MODE=true"}})
	c := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}

	start := time.Now().Add(-time.Second)
	c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", object{"kind": "Project", "metadata": object{"name": "audited"}})
	base := "/api/v1/projects/audited/dashboards"
	c.expect(t, http.StatusOK, http.MethodPost, base, markdownDashboard("audited", "d1", "one"))
	req, err := http.NewRequest(http.MethodPut, inst.url+base+"/d1", encodeBody(t, markdownDashboard("audited", "d1", "two")))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "e2e-update-1")
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // not believed: no trusted proxies
	r := c.send(t, req)
	require.Equal(t, http.StatusOK, r.Status, "%s", r)
	assert.Equal(t, "e2e-update-1", r.Header.Get("X-Request-Id"), "the request id is echoed")
	c.expect(t, http.StatusOK, http.MethodGet, base+"/d1", nil) // a read: not recorded
	del := c.expect(t, http.StatusNoContent, http.MethodDelete, base+"/d1", nil)
	assert.Regexp(t, "^[0-9a-f]{32}$", del.Header.Get("X-Request-Id"), "a request id is made when none is sent")
	c.expect(t, http.StatusConflict, http.MethodPost, "/api/v1/projects", object{"kind": "Project", "metadata": object{"name": "audited"}})

	got := auditRead(t, c, url.Values{"project": {"audited"}}, 2)
	type brief struct {
		Action, Kind, Name string
		Status             int
	}
	var briefs []brief
	for _, r := range got {
		briefs = append(briefs, brief{r.Action, r.Kind, r.Name, r.Status})
		assert.Equal(t, "developer", r.User)
		assert.Contains(t, r.Groups, "developers")
		assert.Equal(t, "127.0.0.1", r.Source)
		assert.NotEmpty(t, r.RequestID)
		assert.WithinDuration(t, time.Now(), r.Time, time.Minute)
	}
	assert.Equal(t, []brief{ // newest first
		{"DELETE /api/v1/projects/:project/dashboards/:name", "Dashboard", "d1", http.StatusNoContent},
		{"PUT /api/v1/projects/:project/dashboards/:name", "Dashboard", "d1", http.StatusOK},
		{"POST /api/v1/projects/:project/dashboards", "Dashboard", "", http.StatusOK},
	}, briefs)
	assert.Equal(t, "e2e-update-1", got[1].RequestID)
	assert.Equal(t, del.Header.Get("X-Request-Id"), got[0].RequestID)
	// A project's creation names it in the body only, which is never read: the record
	// has the route, the user and the result.
	projects := auditRead(t, c, url.Values{"action": {"POST /api/v1/projects"}}, 10)
	require.Len(t, projects, 2)
	assert.Equal(t, []int{http.StatusConflict, http.StatusOK}, []int{projects[0].Status, projects[1].Status})

	t.Run("filters", func(t *testing.T) {
		deletes := auditRead(t, c, url.Values{"action": {"DELETE"}}, 10)
		require.Len(t, deletes, 1)
		assert.Equal(t, "d1", deletes[0].Name)
		puts := auditRead(t, c, url.Values{"action": {"PUT /api/v1/projects/:project/dashboards/:name"}, "user": {"developer"}}, 10)
		require.Len(t, puts, 1)
		assert.Empty(t, auditRead(t, c, url.Values{"user": {"nobody"}}, 10))
		assert.Empty(t, auditRead(t, c, url.Values{"project": {"elsewhere"}}, 10))
		assert.Empty(t, auditRead(t, c, url.Values{"until": {start.UTC().Format(time.RFC3339Nano)}}, 10))
		assert.Len(t, auditRead(t, c, url.Values{"since": {start.UTC().Format(time.RFC3339Nano)}, "project": {"audited"}}, 1), len(got))
		all := auditRead(t, c, url.Values{}, 1000)
		one := auditRead(t, c, url.Values{}, 1)
		assert.Equal(t, all, one, "pages of 1 give the same records as one page")
	})

	t.Run("answers match the OpenAPI document", func(t *testing.T) {
		router := documentRouter(t, inst.url)
		for _, q := range []string{"", "?limit=2", "?project=audited&action=DELETE", "?limit=0"} {
			checkLive(t, router, http.MethodGet, inst.url+"/api/v1/audit"+q)
		}
	})

	t.Run("bad queries", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=1001", "since=yesterday", "continue=%25%25", "colour=blue"} {
			r := c.do(t, http.MethodGet, "/api/v1/audit?"+q, nil)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", q, r)
			assert.Contains(t, string(r.Body), `"message"`)
		}
	})

	t.Run("JSON lines", func(t *testing.T) {
		source := filepath.Join(dir, "perses.log") // standard output
		if auditFile != "" {
			source = auditFile
		}
		data, err := os.ReadFile(source)
		require.NoError(t, err)
		var lines []auditRecord
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var r auditRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Action != "" {
				lines = append(lines, r)
			}
		}
		var ids []string
		for _, r := range lines {
			ids = append(ids, r.RequestID)
		}
		assert.Contains(t, ids, "e2e-update-1")
		assert.NotContains(t, string(data), `"text":"two"`, "no body in the records")
	})
}

// TestAuditOffByDefault: the shared server records nothing and says so, as documented.
func TestAuditOffByDefault(t *testing.T) {
	r := newAPIClient(t).do(t, http.MethodGet, "/api/v1/audit", nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.True(t, strings.Contains(string(r.Body), "audit logging is off"), "%s", r)
	checkLive(t, documentRouter(t, serverURL(t)), http.MethodGet, serverURL(t)+"/api/v1/audit?limit=5")
}

// documentRouter routes requests to base by the repository's OpenAPI document.
func documentRouter(t *testing.T, base string) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.Document())
	require.NoError(t, err)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return router
}
