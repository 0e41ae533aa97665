package nameguard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGuard(t *testing.T) {
	e := echo.New()
	e.Pre(Middleware(""))
	reached := 0
	e.Any("/*", func(c echo.Context) error {
		reached++
		return c.NoContent(http.StatusOK)
	})
	for _, tc := range []struct {
		method, uri, body string
		want              int
		wantMsg           string
	}{
		{http.MethodGet, "/api/v1/projects/team-a/dashboards/d1", "", http.StatusOK, ""},
		{http.MethodGet, "/api/v1/projects/my.project/dashboards/v1.2", "", http.StatusOK, ""},
		{http.MethodGet, "/projects/../x", "", http.StatusOK, ""}, // not the API: the UI's routes
		{http.MethodDelete, "/api/v1/projects/..", "", http.StatusBadRequest, `path: ".."`},
		{http.MethodDelete, "/api/v1/projects/.", "", http.StatusBadRequest, `path: "."`},
		{http.MethodGet, "/api/v1/projects/%2e%2e", "", http.StatusBadRequest, `".."`},
		{http.MethodGet, "/api/v1/projects/.%2e", "", http.StatusBadRequest, `".."`},
		{http.MethodGet, "/api/v1/projects/%252e%252e", "", http.StatusBadRequest, `".."`},
		{http.MethodGet, "/api/v1/projects/a/dashboards/..%2f..%2fvictim", "", http.StatusBadRequest, "slash"},
		{http.MethodGet, "/api/v1/projects/a/dashboards/..%5cvictim", "", http.StatusBadRequest, "slash"},
		{http.MethodGet, "/api/v1/dashboards?project=..", "", http.StatusBadRequest, "query parameter project"},
		{http.MethodGet, "/api/v1/dashboards?project=%2e", "", http.StatusBadRequest, "query parameter project"},
		{http.MethodGet, "/api/v1/dashboards?project=..%252fvictimdir", "", http.StatusBadRequest, "slash"},
		{http.MethodGet, "/api/v1/dashboards?name=..", "", http.StatusBadRequest, "query parameter name"},
		{http.MethodGet, "/api/v1/dashboards?project=team-a&name=d", "", http.StatusOK, ""},
		{http.MethodPost, "/api/v1/projects", `{"kind":"Project","metadata":{"name":".."}}`, http.StatusBadRequest, "metadata.name"},
		{http.MethodPost, "/api/v1/projects/a/dashboards", `{"kind":"Dashboard","metadata":{"name":"ok","project":"."}}`, http.StatusBadRequest, "metadata.project"},
		{http.MethodPut, "/api/v1/projects/a/dashboards/x", `[{"metadata":{"name":"ok"}},{"metadata":{"name":"a/b"}}]`, http.StatusBadRequest, "slash"},
		{http.MethodPost, "/api/v1/projects", `{"kind":"Project","metadata":{"name":"team-a"}}`, http.StatusOK, ""},
		{http.MethodPost, "/api/v1/projects", `not json`, http.StatusOK, ""}, // upstream answers the syntax error
	} {
		t.Run(tc.method+" "+tc.uri, func(t *testing.T) {
			before := reached
			rec := httptest.NewRecorder()
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.uri, body))
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusOK {
				assert.Equal(t, before+1, reached)
			} else {
				assert.Equal(t, before, reached, "a refused request must not reach a handler")
				var answer struct{ Message string }
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &answer))
				assert.Contains(t, answer.Message, tc.wantMsg)
			}
		})
	}
}

// The handler still sees the whole body after the guard read it.
func TestGuardPutsTheBodyBack(t *testing.T) {
	e := echo.New()
	e.Pre(Middleware(""))
	var got string
	e.POST("/*", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		got = string(b)
		return err
	})
	doc := `{"kind":"Project","metadata":{"name":"team-a"},"spec":{"display":{"name":"Team A"}}}`
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/projects", strings.NewReader(doc)))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, doc, got)
}
