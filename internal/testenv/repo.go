package testenv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// rootModule is the module path that marks the repository root.
const rootModule = "github.com/openshift-ai/observability"

// RepoRoot returns the repository root: the nearest directory, from the working directory
// upwards, whose go.mod declares the root module. Tests run with their package directory as
// working directory, so this finds the root from any package.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Equal(firstModuleLine(data), []byte("module "+rootModule)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod of module " + rootModule + " above the working directory")
		}
		dir = parent
	}
}

func firstModuleLine(gomod []byte) []byte {
	for line := range bytes.Lines(gomod) {
		line = bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("module ")) {
			return line
		}
	}
	return nil
}
