package testenv_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openshift-ai/observability/internal/testenv"
)

// startKube starts the real control plane for one test and stops it at the end.
func startKube(t *testing.T) *testenv.Kube {
	t.Helper()
	start := time.Now()
	k, err := testenv.StartKube(t.Context(), testenv.KubeOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, k.Stop()) })
	t.Logf("etcd + kube-apiserver + kube-controller-manager ready in %s at %s", time.Since(start).Round(time.Millisecond), k.URL)
	return k
}

func TestKube(t *testing.T) {
	k := startKube(t)
	ctx := t.Context()

	t.Run("readyz", func(t *testing.T) {
		body, err := k.Admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ok", string(body))
	})

	t.Run("token review", func(t *testing.T) {
		for _, tc := range []struct {
			name, token string
			user        string // "" when the token must be refused
			groups      []string
		}{
			{name: "alice plain token", token: k.Token("alice"), user: "alice", groups: []string{"team-a", "system:authenticated"}},
			{name: "alice openshift token", token: k.OpenShiftToken("alice"), user: "alice", groups: []string{"team-a", "system:authenticated"}},
			{name: "admin", token: k.Token("admin"), user: "admin", groups: []string{testenv.SystemMasters, "system:authenticated"}},
			{name: "unknown token", token: testenv.NewOpenShiftToken()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				review, err := k.Admin.AuthenticationV1().TokenReviews().Create(ctx,
					&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tc.token}}, metav1.CreateOptions{})
				require.NoError(t, err)
				if tc.user == "" {
					assert.False(t, review.Status.Authenticated)
					return
				}
				require.True(t, review.Status.Authenticated, review.Status.Error)
				assert.Equal(t, tc.user, review.Status.User.Username)
				assert.ElementsMatch(t, tc.groups, review.Status.User.Groups)
			})
		}
	})

	t.Run("subject access review", func(t *testing.T) {
		require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b"))
		require.NoError(t, k.CreateClusterRole(ctx, "dashboard-editor", rbacv1.PolicyRule{
			APIGroups: []string{"perses.openshift.io"}, Resources: []string{"dashboards"}, Verbs: []string{"get", "list", "create"},
		}))
		require.NoError(t, k.BindClusterRole(ctx, "team-a", "dashboard-editor", testenv.GroupSubject("team-a")))
		require.NoError(t, k.CreateRole(ctx, "team-b", "dashboard-reader", rbacv1.PolicyRule{
			APIGroups: []string{"perses.openshift.io"}, Resources: []string{"dashboards"}, Verbs: []string{"get"},
		}))
		require.NoError(t, k.BindRole(ctx, "team-b", "dashboard-reader", testenv.UserSubject("carol")))

		for _, tc := range []struct {
			user, verb, namespace string
			allowed               bool
		}{
			{"alice", "create", "team-a", true},
			{"alice", "create", "team-b", false},
			{"bob", "get", "team-a", false},
			{"carol", "get", "team-b", true},
			{"carol", "create", "team-b", false},
			{"admin", "create", "team-b", true},
		} {
			attrs := &authorizationv1.ResourceAttributes{Group: "perses.openshift.io", Resource: "dashboards", Verb: tc.verb, Namespace: tc.namespace}
			t.Run(tc.user+" "+tc.verb+" "+tc.namespace, func(t *testing.T) {
				// Asked by the admin for the user (what a server does)...
				sar, err := k.Admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{User: tc.user, Groups: k.Groups(tc.user), ResourceAttributes: attrs},
				}, metav1.CreateOptions{})
				require.NoError(t, err)
				assert.Equal(t, tc.allowed, sar.Status.Allowed, sar.Status.Reason)

				// ...and by the user about itself, with its own token.
				self, err := k.Clientset(tc.user)
				require.NoError(t, err)
				ssar, err := self.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
					Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs},
				}, metav1.CreateOptions{})
				require.NoError(t, err)
				assert.Equal(t, tc.allowed, ssar.Status.Allowed)
			})
		}
	})

	t.Run("controller-manager", func(t *testing.T) {
		// Aggregated ClusterRoles have their rules (StartKube waited for "view").
		for _, name := range []string{"admin", "edit", "view"} {
			role, err := k.Admin.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.NotEmpty(t, role.Rules, name)
		}
		// Every namespace gets its default service account; a deleted one goes away.
		require.NoError(t, k.CreateNamespaces(ctx, "doomed"))
		assert.EventuallyWithT(t, func(c *assert.CollectT) {
			_, err := k.Admin.CoreV1().ServiceAccounts("doomed").Get(ctx, "default", metav1.GetOptions{})
			assert.NoError(c, err)
		}, 30*time.Second, 100*time.Millisecond)
		require.NoError(t, k.Admin.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}))
		assert.EventuallyWithT(t, func(c *assert.CollectT) {
			_, err := k.Admin.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
			assert.True(c, apierrors.IsNotFound(err), "namespace still there: %v", err)
		}, 30*time.Second, 100*time.Millisecond)
	})

	t.Run("kubeconfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kubeconfig")
		require.NoError(t, k.WriteKubeconfig(path, "bob"))
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		require.NoError(t, err)
		cs, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, "bob", review.Status.UserInfo.Username)
	})

	t.Run("stop twice", func(t *testing.T) {
		k2 := startKube(t)
		require.NoError(t, k2.Stop())
		require.NoError(t, k2.Stop())
	})
}

func TestKubeMissingBinaries(t *testing.T) {
	_, err := testenv.StartKube(t.Context(), testenv.KubeOptions{ToolsDir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make tools")
	assert.Contains(t, err.Error(), "hack/kube/build.sh build/tools")
}
