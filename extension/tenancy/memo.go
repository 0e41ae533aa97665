package tenancy

import "sync"

// Bounds of the memo of enforced queries: longer queries are not remembered, and past
// memoMaxEntries it starts over.
const (
	memoMaxQuery   = 4 << 10
	memoMaxEntries = 1024
)

// memo remembers recent enforcements for the proxy. Dashboards send the same
// expressions at every refresh (only time, start and end change), and parsing and
// printing them is the proxy's largest CPU cost after the network (a tenth of it).
// Enforce is a pure function of the query, the namespace and the enforcer's immutable
// configuration, so a remembered answer is the answer. Only successes are kept.
type memo struct {
	mu sync.RWMutex
	m  map[memoKey]string
}

type memoKey struct{ query, namespace string }

func newMemo() *memo { return &memo{m: map[memoKey]string{}} }

// enforceMemo is Enforce, remembered.
func (e *Enforcer) enforceMemo(query, namespace string) (string, error) {
	if e.memo == nil || len(query) > memoMaxQuery {
		return e.Enforce(query, namespace)
	}
	k := memoKey{query, namespace}
	e.memo.mu.RLock()
	out, ok := e.memo.m[k]
	e.memo.mu.RUnlock()
	if ok {
		return out, nil
	}
	out, err := e.Enforce(query, namespace)
	if err != nil {
		return "", err
	}
	e.memo.mu.Lock()
	if len(e.memo.m) >= memoMaxEntries {
		clear(e.memo.m)
	}
	e.memo.m[k] = out
	e.memo.mu.Unlock()
	return out, nil
}
