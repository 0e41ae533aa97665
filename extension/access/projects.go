package access

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/openshift-ai/observability/extension/identity"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Namespaces is the watched namespace list (an informer: one list and a watch for the
// life of the server, never a list per request).
type Namespaces struct {
	lister listersv1.NamespaceLister
	synced cache.InformerSynced
}

// WatchNamespaces starts the informer; it runs until ctx ends.
func WatchNamespaces(ctx context.Context, cs kubernetes.Interface) *Namespaces {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute)
	inf := f.Core().V1().Namespaces()
	n := &Namespaces{lister: inf.Lister(), synced: inf.Informer().HasSynced}
	f.Start(ctx.Done())
	return n
}

// WaitForSync waits until the first list arrived, or ctx ends.
func (n *Namespaces) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), n.synced)
}

// List returns the names of the active namespaces, or ErrUnavailable before the first
// list arrived.
func (n *Namespaces) List() ([]string, error) {
	if !n.synced() {
		return nil, fmt.Errorf("%w: the namespace list has not been read yet", ErrUnavailable)
	}
	all, err := n.lister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	names := make([]string, 0, len(all))
	for _, ns := range all {
		if ns.Status.Phase != corev1.NamespaceTerminating {
			names = append(names, ns.Name)
		}
	}
	return names, nil
}

// Exists says whether the namespace exists and is not being deleted.
func (n *Namespaces) Exists(name string) (bool, error) {
	if !n.synced() {
		return false, fmt.Errorf("%w: the namespace list has not been read yet", ErrUnavailable)
	}
	ns, err := n.lister.Get(name)
	if err != nil {
		return false, nil //nolint:nilerr // a lister error is "not found"
	}
	return ns.Status.Phase != corev1.NamespaceTerminating, nil
}

// OpenShiftProjects lists the projects a user sees on OpenShift
// (GET /apis/project.openshift.io/v1/projects with the user's own token), remembered per
// token for ttl.
type OpenShiftProjects struct {
	base   *rest.Config
	client *http.Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]projectsEntry
}

type projectsEntry struct {
	names   []string
	expires time.Time
}

// NewOpenShiftProjects uses the server's connection (address, CA) with each user's token.
func NewOpenShiftProjects(server *rest.Config, ttl time.Duration) (*OpenShiftProjects, error) {
	anon := rest.AnonymousClientConfig(server)
	client, err := rest.HTTPClientFor(anon)
	if err != nil {
		return nil, err
	}
	return &OpenShiftProjects{base: anon, client: client, ttl: ttl, now: time.Now, entries: map[[sha256.Size]byte]projectsEntry{}}, nil
}

// For returns the names of the user's projects.
func (o *OpenShiftProjects) For(ctx context.Context, u *identity.User) ([]string, error) {
	token := u.Token()
	if token == "" {
		return nil, fmt.Errorf("%w: no token to list %s's OpenShift projects with", ErrUnavailable, u.Name)
	}
	k := sha256.Sum256([]byte(token))
	now := o.now()
	o.mu.Lock()
	e, ok := o.entries[k]
	o.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.names, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base.Host+"/apis/project.openshift.io/v1/projects", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: OpenShift projects: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: OpenShift projects: %s", ErrUnavailable, resp.Status)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%w: OpenShift projects: %v", ErrUnavailable, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, it := range list.Items {
		if it.Status.Phase != string(corev1.NamespaceTerminating) {
			names = append(names, it.Metadata.Name)
		}
	}
	o.mu.Lock()
	if len(o.entries) > 4096 {
		clear(o.entries)
	}
	o.entries[k] = projectsEntry{names: names, expires: now.Add(o.ttl)}
	o.mu.Unlock()
	return names, nil
}
