//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBrowserGallery walks the template gallery (/templates, extension/gallery) in Chromium:
// the model-serving template in team-a, its model from the workload picker (or the text
// field when the project lists no model server), Create, and the stock UI opening the new
// dashboard with its display name on the page (e2e/browser/gallery.mjs).
func TestBrowserGallery(t *testing.T) {
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is not installed: run `make deps`")
	if _, err := os.Stat(filepath.Join(shared.repoRoot, "e2e", "browser", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("e2e/browser/node_modules is missing: run `make deps` (npm ci in e2e/browser)")
	}
	chromium := os.Getenv("CHROMIUM_BIN")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	name := fmt.Sprintf("gallery-m1-%d", time.Now().UnixNano()%1_000_000)
	screenshot := filepath.Join(shared.repoRoot, "build", "screenshots", "gallery.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(shared.repoRoot, "e2e", "browser", "gallery.mjs"),
		serverURL(t), "team-a", "model-serving", "m1", screenshot, name)
	cmd.Env = append(os.Environ(), "CHROMIUM_BIN="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s\nscreenshot: %s\nserver log:\n%s", strings.TrimSpace(stderr.String()), screenshot, tail(shared.persesLog, 20))
	}
	var got struct {
		URL, Dashboard, DisplayName string
		Picker                      bool
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	t.Logf("gallery: %+v", got)
	require.Equal(t, name, got.Dashboard)
	require.Contains(t, got.DisplayName, "m1", "the template names the dashboard after the model")
}
