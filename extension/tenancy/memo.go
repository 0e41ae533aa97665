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

// targetMemo remembers parsed datasource specs (accepted ones only), keyed by the spec's
// bytes and the name errors would quote: a dashboard's queries resolve the same spec
// again and again. A target is read-only once parsed (Do copies its URL).
type targetMemo struct {
	mu sync.RWMutex
	m  map[string]target
}

var parsedTargets = &targetMemo{m: map[string]target{}}

// parse is parseTarget, remembered.
func (tm *targetMemo) parse(name string, spec []byte) (target, error) {
	k := name + "\x00" + string(spec)
	tm.mu.RLock()
	t, ok := tm.m[k]
	tm.mu.RUnlock()
	if ok {
		return t, nil
	}
	t, err := parseTarget(name, spec)
	if err != nil {
		return t, err
	}
	tm.mu.Lock()
	if len(tm.m) >= memoMaxEntries {
		clear(tm.m)
	}
	tm.m[k] = t
	tm.mu.Unlock()
	return t, nil
}
