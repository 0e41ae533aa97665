package tenancy

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// DefaultSpecTTL is how long the proxy reuses a datasource spec it read from the store.
const DefaultSpecTTL = 2 * time.Second

// maxSpecs bounds the cache; past it, expired entries are swept, then everything.
const maxSpecs = 4096

// SpecCache keeps the datasource specs the proxy reads from the store for a short time,
// so that a dashboard's burst of queries reads its datasource once rather than once per
// query (on the file store: a file read, a JSON decode of the datasource and an encode
// of its spec, a quarter of the proxy's CPU per query). Only found specs are kept.
//
// Writes through this server's API (any POST, PUT, PATCH or DELETE under /api/) and
// the provisioner's writes empty it at once; writes it cannot see (another replica,
// upstream's provisioning folders) are seen after at most the TTL. What a query is
// confined to never comes from here: the namespace is the path's project, and the
// request is authorised each time before its datasource is looked up.
type SpecCache struct {
	ttl time.Duration
	now func() time.Time

	mu  sync.RWMutex
	gen uint64 // bumped by every invalidation
	m   map[specKey]specEntry
}

type specKey struct{ kind, project, dashboard, name string }

type specEntry struct {
	spec  json.RawMessage
	until time.Time
}

// NewSpecCache keeps specs for ttl; ttl ≤ 0 keeps nothing.
func NewSpecCache(ttl time.Duration) *SpecCache {
	return &SpecCache{ttl: ttl, now: time.Now, m: map[specKey]specEntry{}}
}

func keyOf(rt Route) specKey { return specKey{rt.Kind, rt.Project, rt.Dashboard, rt.Name} }

// get returns a spec read less than the TTL ago and not invalidated since, and the
// generation to give put when there is none.
func (c *SpecCache) get(k specKey) (json.RawMessage, uint64, bool) {
	if c == nil || c.ttl <= 0 {
		return nil, 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e, ok := c.m[k]; ok && c.now().Before(e.until) {
		return e.spec, c.gen, true
	}
	return nil, c.gen, false
}

// put keeps a spec read from the store, unless the cache was invalidated since get
// (gen): the spec may then predate the write.
func (c *SpecCache) put(k specKey, spec json.RawMessage, gen uint64) {
	if c == nil || c.ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxSpecs {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxSpecs {
			clear(c.m)
		}
	}
	c.m[k] = specEntry{spec: spec, until: now.Add(c.ttl)}
}

// Invalidate forgets every spec.
func (c *SpecCache) Invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// Middleware empties the cache after every request that may have written to the store:
// any method but GET, HEAD and OPTIONS, on any path but the datasource proxy's (whose
// POSTs are queries). Datasources, dashboards with their own datasources and projects
// are written through the API (percli apply too); other writes are rare.
func (c *SpecCache) Middleware(apiPrefix string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ctx echo.Context) error {
			req := ctx.Request()
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(ctx)
			}
			path := strings.TrimPrefix(req.URL.Path, apiPrefix)
			query := path == "/proxy" || strings.HasPrefix(path, "/proxy/")
			err := next(ctx)
			if !query {
				c.Invalidate()
			}
			return err
		}
	}
}

// copyBuffers are the buffers answers are copied through: io.Copy would allocate 32 KiB
// per answer (neither side has ReadFrom or WriteTo), most of the proxy's allocations.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}
