package tenancy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The memo answers exactly what Enforce answers, for every table case, twice (the
// second time from the memo), in both namespaces; refusals are never remembered.
func TestEnforceMemo(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {}} {
		e := newEnforcer(t, cfg)
		for _, tc := range enforceCases {
			for _, namespace := range []string{"team-a", "team-b", ""} {
				want, wantErr := e.Enforce(tc.query, namespace)
				for range 2 {
					got, err := e.enforceMemo(tc.query, namespace)
					if wantErr != nil {
						require.Error(t, err, tc.name)
						assert.Equal(t, wantErr.Error(), err.Error(), tc.name)
						continue
					}
					require.NoError(t, err, tc.name)
					assert.Equal(t, want, got, "%s in %q", tc.name, namespace)
				}
			}
		}
		for k := range e.memo.m {
			_, err := e.Enforce(k.query, k.namespace)
			assert.NoError(t, err, "only successes are remembered: %q", k.query)
		}
	}
}

func TestEnforceMemoBounds(t *testing.T) {
	e := newEnforcer(t, DefaultConfig())
	for i := range memoMaxEntries + 10 {
		_, err := e.enforceMemo(fmt.Sprintf("up{job=%q}", fmt.Sprint(i)), "team-a")
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(e.memo.m), memoMaxEntries)

	long := "sum(up{job=\"" + strings.Repeat("x", memoMaxQuery) + "\"})"
	got, err := e.enforceMemo(long, "team-a")
	require.NoError(t, err)
	assert.Contains(t, got, `namespace="team-a"`)
	_, kept := e.memo.m[memoKey{long, "team-a"}]
	assert.False(t, kept, "long queries are not remembered")
}

func TestTargetMemoGivesParseTarget(t *testing.T) {
	tm := targetMemo{newMemo[string, target]()}
	ok := []byte(`{"plugin":{"kind":"PrometheusDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":"http://127.0.0.1:9090","headers":{"X-A":"1"}}}}}}`)
	for i := 0; i < 2; i++ { // parsed, then remembered
		got, err := tm.parse("p", ok)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := parseTarget("p", ok)
		if got.url.String() != want.url.String() || got.headers["X-A"] != "1" || got.secret != want.secret {
			t.Fatalf("pass %d: %+v, want %+v", i, got, want)
		}
	}
	bad := []byte(`{"plugin":{"kind":"TempoDatasource"}}`)
	for i := 0; i < 2; i++ {
		if _, err := tm.parse("t", bad); err == nil {
			t.Fatalf("pass %d: a refused spec was accepted", i)
		}
	}
	if len(tm.m) != 1 {
		t.Fatalf("%d entries remembered, want 1 (refusals are not)", len(tm.m))
	}
}
