// Package nameguard refuses resource names and projects that a store could take for a
// path: "." and ".." (and their percent-encodings), and names carrying a slash or a
// backslash once decoded. Upstream v0.54.0's name pattern accepts "." and "..", and its
// file database joins names into paths, so DELETE /api/v1/projects/.. removes the whole
// database folder and ?project=.. lists every file in it. The guard runs before routing
// and looks at every place a name arrives: path segments, the project and name query
// parameters, and metadata.name / metadata.project of JSON bodies.
package nameguard

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/tidwall/gjson"
)

// MaxInspectedBody is how much of a JSON body the guard reads to find metadata; larger
// bodies are refused here (upstream would read them whole anyway).
const MaxInspectedBody = 8 << 20

// Check says why a decoded name is refused, or "" when it is fine.
func Check(name string) string {
	switch {
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid name: \".\" and \"..\" name folders, not resources", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Sprintf("%q is not a valid name: it contains a slash", name)
	}
	return ""
}

// decode undoes percent-encoding until the value stops changing (double encodings
// included), so that %252e%252e is judged as "..".
func decode(s string) string {
	for range 4 {
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			return s
		}
		s = d
	}
	return s
}

// Middleware is the guard, for upstream's PreMiddleware (before routing).
func Middleware(apiPrefix string) echo.MiddlewareFunc {
	base := apiPrefix + "/api/"
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			raw := r.URL.EscapedPath()
			if !strings.HasPrefix(raw, base) {
				return next(c)
			}
			for _, seg := range strings.Split(strings.TrimPrefix(raw, base), "/") {
				if why := Check(decode(seg)); why != "" {
					return echo.NewHTTPError(http.StatusBadRequest, "path: "+why)
				}
			}
			q := r.URL.Query()
			for _, key := range []string{"project", "name"} {
				for _, v := range q[key] {
					if why := Check(decode(v)); v != "" && why != "" {
						return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("query parameter %s: %s", key, why))
					}
				}
			}
			if err := checkBody(r); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// checkBody looks at metadata.name and metadata.project of a JSON body (one document
// or a list) and puts the body back for the handler.
func checkBody(r *http.Request) error {
	if r.Body == nil || (r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxInspectedBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body: cannot be read: "+err.Error())
	}
	if len(body) > MaxInspectedBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxInspectedBody))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	doc := gjson.ParseBytes(body)
	docs := []gjson.Result{doc}
	if doc.IsArray() {
		docs = doc.Array()
	}
	for _, d := range docs {
		for _, field := range []string{"metadata.name", "metadata.project"} {
			v := d.Get(field)
			if v.Type != gjson.String {
				continue
			}
			if why := Check(v.String()); why != "" {
				return echo.NewHTTPError(http.StatusBadRequest, field+": "+why)
			}
		}
	}
	return nil
}
