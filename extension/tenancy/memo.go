package tenancy

import "sync"

// Bounds of the memos: longer queries are not remembered, and past memoMaxEntries a memo
// starts over.
const (
	memoMaxQuery   = 4 << 10
	memoMaxEntries = 1024
)

// memo is a bounded map of remembered answers of a pure function. Only successes are
// put in it.
type memo[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func newMemo[K comparable, V any]() *memo[K, V] { return &memo[K, V]{m: map[K]V{}} }

func (mm *memo[K, V]) get(k K) (V, bool) {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	v, ok := mm.m[k]
	return v, ok
}

func (mm *memo[K, V]) put(k K, v V) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if len(mm.m) >= memoMaxEntries {
		clear(mm.m)
	}
	mm.m[k] = v
}

type memoKey struct{ query, namespace string }

// enforceMemo is Enforce, remembered. Dashboards send the same expressions at every
// refresh (only time, start and end change), and parsing and printing them is the
// proxy's largest CPU cost after the network. Enforce is a pure function of the query,
// the namespace and the enforcer's immutable configuration, so a remembered answer is
// the answer.
func (e *Enforcer) enforceMemo(query, namespace string) (string, error) {
	if e.memo == nil || len(query) > memoMaxQuery {
		return e.Enforce(query, namespace)
	}
	k := memoKey{query, namespace}
	if out, ok := e.memo.get(k); ok {
		return out, nil
	}
	out, err := e.Enforce(query, namespace)
	if err != nil {
		return "", err
	}
	e.memo.put(k, out)
	return out, nil
}

// targetMemo remembers parsed datasource specs (accepted ones only), keyed by the name
// errors would quote and the spec's bytes: a dashboard's queries resolve the same spec
// again and again. A target is read-only once parsed (Do copies its URL).
type targetMemo struct{ *memo[string, target] }

var parsedTargets = targetMemo{newMemo[string, target]()}

// parse is parseTarget, remembered.
func (tm targetMemo) parse(name string, spec []byte) (target, error) {
	k := name + "\x00" + string(spec)
	if t, ok := tm.get(k); ok {
		return t, nil
	}
	t, err := parseTarget(name, spec)
	if err != nil {
		return t, err
	}
	tm.put(k, t)
	return t, nil
}
