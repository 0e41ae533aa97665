//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// TestBrowserGallery walks the template gallery (/templates, extension/gallery) in Chromium:
// the model-serving template in team-a, its model from the workload picker (or the text
// field when the project lists no model server), Create, and the stock UI opening the new
// dashboard with its display name on the page (e2e/browser/gallery.mjs). The shared server
// has no cluster (the workloads endpoint answers 503, as `make run`): the dashboard's Model
// variable (OpenShiftAIWorkloadVariable) degrades to the instantiated model alone.
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
		serverURL(t), "team-a", "model-serving", "m1", screenshot, name, "Model")
	cmd.Env = append(os.Environ(), "CHROMIUM_BIN="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s\nscreenshot: %s\nserver log:\n%s", strings.TrimSpace(stderr.String()), screenshot, tail(shared.persesLog, 20))
	}
	var got struct {
		URL, Dashboard, DisplayName, VariableValue string
		VariableOptions                            []string
		Picker                                     bool
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	t.Logf("gallery: %+v", got)
	require.Equal(t, name, got.Dashboard)
	require.Contains(t, got.DisplayName, "m1", "the template names the dashboard after the model")
	if !got.Picker {
		// No workloads listed: the variable's fallback, the instantiated model, alone.
		require.Equal(t, "m1", got.VariableValue)
		require.Equal(t, []string{"m1"}, got.VariableOptions)
	}
}

// TestBrowserGalleryWorkloads is the quickstart's flow against a cluster (issue 6): a
// server of the test's own in development mode (no login in the browser) whose workloads
// endpoint lists a real kube-apiserver with InferenceServices m1 and m2 in team-a, with the
// server's own credentials (overlays/base/rbac-provision.yaml's perses-server-workloads),
// and the suite's Prometheus (team-a's m1 has vLLM latency histograms). In Chromium
// (e2e/browser/quickstart.mjs): the gallery's model-serving form lists both models → m1 →
// Create → the dashboard shows its name in the heading, the latency panel draws p50, p95
// and p99 with data, and the dashboard's Model variable (OpenShiftAIWorkloadVariable)
// lists both models. Screenshots: build/screenshots/quickstart-*.png.
func TestBrowserGalleryWorkloads(t *testing.T) {
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is not installed: run `make deps`")
	if _, err := os.Stat(filepath.Join(shared.repoRoot, "e2e", "browser", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("e2e/browser/node_modules is missing: run `make deps` (npm ci in e2e/browser)")
	}
	chromium := os.Getenv("CHROMIUM_BIN")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	base := startGalleryCluster(t)

	name := fmt.Sprintf("quickstart-m1-%d", time.Now().UnixNano()%1_000_000)
	require.NoError(t, os.MkdirAll(filepath.Join(shared.repoRoot, "build", "screenshots"), 0o750))
	shots := filepath.Join(shared.repoRoot, "build", "screenshots", "quickstart")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(shared.repoRoot, "e2e", "browser", "quickstart.mjs"),
		base, "team-a", "model-serving", "m1", name, "End-to-end request latency", "Model", "m1,m2", shots)
	cmd.Env = append(os.Environ(), "CHROMIUM_BIN="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s\nscreenshots: %s-*.png", strings.TrimSpace(stderr.String()), shots)
	}
	var got struct {
		PickerOptions, VariableOptions, Legend []string
		DisplayName, VariableValue, URL        string
		CanvasInk                              int
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	t.Logf("quickstart: %+v", got)
	require.Equal(t, "Model serving: m1", got.DisplayName)
	require.Subset(t, got.PickerOptions, []string{"m1", "m2"})
	require.Subset(t, got.VariableOptions, []string{"m1", "m2"})
	require.Equal(t, []string{"p50", "p95", "p99"}, got.Legend)
	require.Greater(t, got.CanvasInk, 500)
}

// startGalleryCluster starts a kube-apiserver with the workload CRDs, InferenceServices m1
// and m2 in team-a and the server's service account allowed to list the workload
// resources (rbac-provision.yaml), and a Perses of the test's own in development mode with
// that cluster and the suite's Prometheus; it returns the server's URL, team-a created.
func startGalleryCluster(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "this test needs kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "perses"))
	applyManifests(t, k, "rbac-server.yaml", "rbac-provision.yaml")
	admin, err := dynamic.NewForConfig(k.Config(k.AdminUser()))
	require.NoError(t, err)
	env := &workloadsEnv{kube: k, admin: admin}
	env.installCRDs(t)
	for _, in := range wlInstances {
		if in.namespace == "team-a" && in.kind == "InferenceService" {
			env.create(t, in)
		}
	}
	sa := "system:serviceaccount:perses:perses"
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := k.Admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:perses"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Group: "serving.kserve.io", Resource: "inferenceservices"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		if res.Status.Allowed {
			break
		}
		require.True(t, time.Now().Before(deadline), "%s may not list inferenceservices within 30 s", sa)
		time.Sleep(50 * time.Millisecond)
	}

	dir, kubeconfig := serverKubeconfig(t, k, "quickstart")
	inst := launchForTest(t, dir, "", launchOptions{env: []string{"DEVELOPMENT_MODE=true"}, openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
`, kubeconfig)})
	c := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("team-a"))
	c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/datasources/"+projectDatasource, nil)
	return inst.url
}
