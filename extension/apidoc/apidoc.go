// Package apidoc serves the OpenAPI 3 document of the product's own endpoints
// (upstream publishes none of its own). The document lives beside this file; every
// capability that adds an endpoint adds it there, and the e2e suite checks live
// responses against it.
package apidoc

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/host"
	"sigs.k8s.io/yaml"
)

//go:embed openapi.yaml
var document []byte

// Document returns the OpenAPI document as YAML.
func Document() []byte { return document }

// Paths where the document is served.
const (
	PathYAML = "/openapi.yaml"
	PathJSON = "/openapi.json"
)

type handler struct{ asJSON []byte }

func (h handler) RegisterRoute(e *echo.Echo) {
	e.GET(PathYAML, func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", document) })
	e.GET(PathJSON, func(c echo.Context) error { return c.JSONBlob(http.StatusOK, h.asJSON) })
}

// Setup serves the document.
func Setup(h *host.Host) error {
	asJSON, err := yaml.YAMLToJSON(document)
	if err != nil {
		return fmt.Errorf("apidoc: the embedded document is not YAML: %w", err)
	}
	if !json.Valid(asJSON) {
		return fmt.Errorf("apidoc: the embedded document does not convert to JSON")
	}
	h.Runner.HTTPServerBuilder().APIRegistration(handler{asJSON: asJSON})
	return nil
}
