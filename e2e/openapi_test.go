//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/openshift-ai/observability/extension/apidoc"
	"github.com/stretchr/testify/require"
)

// Every operation of the OpenAPI document is called on the live server and its answer
// is checked against the document: status, content type and body schema.
func TestOpenAPIDocumentMatchesLiveResponses(t *testing.T) {
	base := serverURL(t)
	resp, err := http.Get(base + apidoc.PathYAML)
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, string(apidoc.Document()), string(served), "the server serves another document than the repository's")

	doc, err := openapi3.NewLoader().LoadFromData(served)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	called := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != http.MethodGet || len(op.Parameters) > 0 {
				continue // operations with inputs are checked by their capability's own e2e tests
			}
			t.Run(op.OperationID, func(t *testing.T) {
				checkLive(t, router, method, base+path)
				called[op.OperationID] = true
			})
		}
	}
	require.Contains(t, called, "getHealth")
}

// checkLive calls the server and validates its answer against the document.
func checkLive(t *testing.T, router routers.Router, method, url string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err, "the document has no route for %s %s", method, url)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s answered %d %q, which the document does not allow", method, url, resp.StatusCode, bytes.TrimSpace(body))
}
