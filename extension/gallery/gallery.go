// Package gallery serves the template gallery page at /templates: a React page (built from
// ui-plugins/openshift-ai/src/gallery by `make ui-plugins`, embedded here) that lists the
// dashboard templates, fills their variables from the project's workloads, instantiates
// one and opens the new dashboard in the stock UI. The page only calls the API
// (extension/templates, extension/workloads), which authorises every call: the page
// itself, like the stock UI's files, is public.
package gallery

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/host"
)

// Path is where the page is served (below the server's api_prefix, which upstream strips).
const Path = "/templates"

//go:embed all:static
var static embed.FS

// ErrNotBuilt is answered (503) when the binary was built without the page.
var ErrNotBuilt = errors.New("gallery: the page is not built into this binary (make ui-plugins, then rebuild)")

// Setup registers the page.
func Setup(h *host.Host) error {
	page, err := fs.Sub(static, "static/page")
	if err != nil {
		return err
	}
	h.Runner.HTTPServerBuilder().APIRegistration(New(page, h.Config.APIPrefix))
	return nil
}

// Handler serves the built page from a file system holding index.html and static/.
type Handler struct {
	page   fs.FS
	prefix string
}

// New serves page below the server's api_prefix.
func New(page fs.FS, apiPrefix string) *Handler {
	return &Handler{page: page, prefix: strings.TrimSuffix(apiPrefix, "/")}
}

// RegisterRoute implements upstream's route registration. The page is /templates itself
// (upstream strips trailing slashes before routing), its assets /templates/static/….
func (h *Handler) RegisterRoute(e *echo.Echo) {
	e.GET(Path, h.serve)
	e.HEAD(Path, h.serve)
	e.GET(Path+"/*", h.serve)
	e.HEAD(Path+"/*", h.serve)
}

// String describes the routes for logs.
func (h *Handler) String() string { return "GET " + Path }

// index is the built index.html with the api_prefix applied: its asset URLs
// (/templates/static/…) moved below it, and told to the page's script the way the stock
// UI is (window.PERSES_APP_CONFIG.api_prefix).
func (h *Handler) index(data []byte) []byte {
	if h.prefix == "" {
		return data
	}
	data = bytes.ReplaceAll(data, []byte(`="`+Path+`/`), []byte(`="`+h.prefix+Path+`/`))
	cfg, _ := json.Marshal(map[string]string{"api_prefix": h.prefix})
	script := []byte("<script>window.PERSES_APP_CONFIG=" + string(cfg) + "</script></head>")
	return bytes.Replace(data, []byte("</head>"), script, 1)
}

func (h *Handler) serve(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	if name == "" {
		name = "index.html"
	}
	if !fs.ValidPath(name) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	data, err := fs.ReadFile(h.page, name)
	if errors.Is(err, fs.ErrNotExist) {
		if name == "index.html" {
			return echo.NewHTTPError(http.StatusServiceUnavailable, ErrNotBuilt.Error())
		}
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	header := c.Response().Header()
	if name == "index.html" {
		data = h.index(data)
		header.Set(echo.HeaderCacheControl, "no-cache")
	} else {
		// the build names every asset by its content hash
		header.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	}
	header.Set("X-Content-Type-Options", "nosniff")
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	return c.Blob(http.StatusOK, ctype, data)
}
