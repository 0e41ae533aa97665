package workloads

import (
	"context"
	"errors"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Credential is whom the cluster sees listing: the caller (their bearer token) or, in
// development mode only, the server itself.
type Credential struct {
	Token  string
	Server bool
}

// ErrNoCredential: neither a token nor the server's own credentials were given.
var ErrNoCredential = errors.New("no Kubernetes credential to list workloads with")

// Cluster is what the API asks of Kubernetes.
type Cluster interface {
	// Served says whether the cluster serves the resource (its CRD is installed).
	Served(ctx context.Context, gvr schema.GroupVersionResource) (bool, error)
	// Forget drops what Served remembers of gvr (its list answered 404).
	Forget(gvr schema.GroupVersionResource)
	// List lists the resource in namespace as cred; truncated says the list was cut at
	// MaxListItems.
	List(ctx context.Context, cred Credential, gvr schema.GroupVersionResource, namespace string) (items []unstructured.Unstructured, truncated bool, err error)
}

// MaxListItems bounds the objects read of one resource (in pages of listPage).
const (
	MaxListItems = 2000
	listPage     = 500
)

// KubeCluster is the real cluster: discovery with the server's own credentials (what
// is served is the same for every user, and remembered for ttl), lists with the
// caller's.
type KubeCluster struct {
	server *rest.Config
	disc   rest.Interface
	ttl    time.Duration
	now    func() time.Time

	mu     sync.Mutex
	served map[schema.GroupVersion]servedEntry
}

type servedEntry struct {
	resources map[string]bool
	expires   time.Time
}

// NewKubeCluster uses server (the server's rest.Config: address, CA, credentials).
func NewKubeCluster(server *rest.Config, ttl time.Duration) (*KubeCluster, error) {
	d, err := discovery.NewDiscoveryClientForConfig(server)
	if err != nil {
		return nil, err
	}
	return &KubeCluster{server: server, disc: d.RESTClient(), ttl: ttl, now: time.Now, served: map[schema.GroupVersion]servedEntry{}}, nil
}

// Served asks GET /apis/<group>/<version> (404: the group/version is not served).
func (k *KubeCluster) Served(ctx context.Context, gvr schema.GroupVersionResource) (bool, error) {
	gv := gvr.GroupVersion()
	now := k.now()
	k.mu.Lock()
	e, ok := k.served[gv]
	k.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.resources[gvr.Resource], nil
	}
	var list metav1.APIResourceList
	err := k.disc.Get().AbsPath("/apis", gv.Group, gv.Version).Do(ctx).Into(&list)
	resources := map[string]bool{}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, err
	default:
		for _, r := range list.APIResources {
			resources[r.Name] = true
		}
	}
	if k.ttl > 0 {
		k.mu.Lock()
		k.served[gv] = servedEntry{resources: resources, expires: now.Add(k.ttl)}
		k.mu.Unlock()
	}
	return resources[gvr.Resource], nil
}

// Forget drops the remembered answer for gvr's group/version.
func (k *KubeCluster) Forget(gvr schema.GroupVersionResource) {
	k.mu.Lock()
	delete(k.served, gvr.GroupVersion())
	k.mu.Unlock()
}

// List lists with cred: the caller's token on the server's address and CA (nothing
// else of the server's credentials), or the server's own credentials.
func (k *KubeCluster) List(ctx context.Context, cred Credential, gvr schema.GroupVersionResource, namespace string) ([]unstructured.Unstructured, bool, error) {
	var cfg *rest.Config
	switch {
	case cred.Token != "":
		cfg = rest.AnonymousClientConfig(k.server)
		cfg.BearerToken = cred.Token
	case cred.Server:
		cfg = rest.CopyConfig(k.server)
	default:
		return nil, false, ErrNoCredential
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, false, err
	}
	var items []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: listPage}
	for {
		page, err := c.Resource(gvr).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return nil, false, err
		}
		items = append(items, page.Items...)
		if len(items) >= MaxListItems {
			return items[:MaxListItems], true, nil
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return items, false, nil
		}
	}
}
