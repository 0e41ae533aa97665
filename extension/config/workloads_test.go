package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkloadsSettings(t *testing.T) {
	cases := []struct {
		name, body string
		want       Workloads
		wantErr    []string
	}{
		{name: "defaults", body: "{}\n", want: Workloads{MetricsTimeout: Duration(10 * time.Second), MetricsConcurrency: 8, MaxMetricsWorkloads: 100, DiscoveryTTL: Duration(30 * time.Second)}},
		{name: "set", body: "openshift_ai:\n  workloads: {metrics_timeout: 2s, metrics_concurrency: 2, max_metrics_workloads: 0, discovery_ttl: 0s}\n",
			want: Workloads{MetricsTimeout: Duration(2 * time.Second), MetricsConcurrency: 2}},
		{name: "bad values", body: "openshift_ai:\n  workloads: {metrics_timeout: 0s, metrics_concurrency: 0, max_metrics_workloads: -1, discovery_ttl: -1s}\n",
			wantErr: []string{"openshift_ai.workloads.metrics_timeout", "openshift_ai.workloads.metrics_concurrency", "openshift_ai.workloads.max_metrics_workloads", "openshift_ai.workloads.discovery_ttl"}},
		{name: "unknown key", body: "openshift_ai:\n  workloads: {timeout: 1s}\n", wantErr: []string{"timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvPrometheusURL, "")
			got, err := Load(writeConfig(t, c.body))
			if len(c.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range c.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got.OpenShiftAI.Workloads)
		})
	}
}
