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
