package apidoc

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// The document is valid OpenAPI 3 and every operation has an id and a response.
func TestDocumentIsValidOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(Document())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.NotEmpty(t, op.OperationID, "%s %s has no operationId", method, path)
			require.NotZero(t, op.Responses.Len(), "%s %s documents no response", method, path)
		}
	}
}
