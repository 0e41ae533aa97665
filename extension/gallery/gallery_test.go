package gallery

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	built := fstest.MapFS{
		"index.html":               {Data: []byte("<!doctype html><div id=root></div>")},
		"static/js/index.abc.js":   {Data: []byte("console.log(1)")},
		"static/css/index.abc.css": {Data: []byte("body{}")},
	}
	tests := []struct {
		name, page, target string
		fs                 fstest.MapFS
		status             int
		ctype              string
		cache              string
	}{
		{name: "index", target: "/templates", fs: built, status: http.StatusOK, ctype: "text/html; charset=utf-8", cache: "no-cache"},
		{name: "index with a query", target: "/templates?project=team-a", fs: built, status: http.StatusOK, ctype: "text/html; charset=utf-8"},
		{name: "index by name", target: "/templates/index.html", fs: built, status: http.StatusOK, ctype: "text/html; charset=utf-8", cache: "no-cache"},
		{name: "script", target: "/templates/static/js/index.abc.js", fs: built, status: http.StatusOK, ctype: "text/javascript; charset=utf-8", cache: "public, max-age=31536000, immutable"},
		{name: "stylesheet", target: "/templates/static/css/index.abc.css", fs: built, status: http.StatusOK, ctype: "text/css; charset=utf-8"},
		{name: "unknown file", target: "/templates/nope.js", fs: built, status: http.StatusNotFound},
		{name: "dot dot", target: "/templates/static/../index.html", fs: built, status: http.StatusNotFound},
		{name: "not built", target: "/templates/", fs: fstest.MapFS{}, status: http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := echo.New()
			New(tc.fs, "").RegisterRoute(e)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path = tc.target // unnormalised, as a client may send it
			if i := len("/templates?"); len(tc.target) > i && tc.target[:i] == "/templates?" {
				req = httptest.NewRequest(http.MethodGet, tc.target, nil)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.ctype != "" {
				require.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
			}
			if tc.cache != "" {
				require.Equal(t, tc.cache, rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestIndexUnderPrefix(t *testing.T) {
	page := fstest.MapFS{"index.html": {Data: []byte(`<html><head><script src="/templates/static/js/i.js"></script></head><body></body></html>`)}}
	e := echo.New()
	New(page, "/perses/").RegisterRoute(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/templates", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, `<html><head><script src="/perses/templates/static/js/i.js"></script><script>window.PERSES_APP_CONFIG={"api_prefix":"/perses"}</script></head><body></body></html>`, rec.Body.String())
}
