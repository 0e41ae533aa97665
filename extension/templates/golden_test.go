package templates

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGolden keeps each instantiated template (with the values of the tests) in
// testdata/<id>.golden.json; `go test ./extension/templates/ -update` rewrites them.
func TestGolden(t *testing.T) {
	for _, tp := range system(t).List() {
		t.Run(tp.ID, func(t *testing.T) {
			spec, err := tp.Instantiate(values[tp.ID])
			require.NoError(t, err)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(spec))
			path := filepath.Join("testdata", tp.ID+".golden.json")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./extension/templates/ -update to write it")
			assert.Equal(t, string(want), buf.String(), "%s differs: check the change, then run with -update", path)
		})
	}
}
