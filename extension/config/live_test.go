package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiveSettings(t *testing.T) {
	defaults := Live{Enabled: true, MaxStreamsPerUser: 10, Heartbeat: Duration(15 * time.Second), MinInterval: Duration(5 * time.Second), DefaultInterval: Duration(15 * time.Second)}
	cases := []struct {
		name, body string
		want       Live
		wantErr    []string
	}{
		{name: "defaults", body: "{}\n", want: defaults},
		{name: "some keys keep the other defaults", body: "openshift_ai:\n  live: {max_streams_per_user: 3, heartbeat: 30s}\n",
			want: Live{Enabled: true, MaxStreamsPerUser: 3, Heartbeat: Duration(30 * time.Second), MinInterval: Duration(5 * time.Second), DefaultInterval: Duration(15 * time.Second)}},
		{name: "off", body: "openshift_ai:\n  live: {enabled: false, max_streams_per_user: 0}\n",
			want: Live{MaxStreamsPerUser: 0, Heartbeat: Duration(15 * time.Second), MinInterval: Duration(5 * time.Second), DefaultInterval: Duration(15 * time.Second)}},
		{name: "bad values, all named", body: "openshift_ai:\n  live: {max_streams_per_user: 0, heartbeat: 10ms, min_interval: 500ms, default_interval: 100ms}\n",
			wantErr: []string{"openshift_ai.live.max_streams_per_user", "openshift_ai.live.heartbeat", "openshift_ai.live.min_interval", "openshift_ai.live.default_interval"}},
		{name: "default below the minimum", body: "openshift_ai:\n  live: {min_interval: 30s}\n",
			wantErr: []string{"openshift_ai.live.default_interval: 15s, want at least min_interval (30s)"}},
		{name: "not a duration", body: "openshift_ai:\n  live:\n    heartbeat: often\n", wantErr: []string{`line 3: "often" is not a duration`}},
		{name: "unknown key", body: "openshift_ai:\n  live: {max_streams: 3}\n", wantErr: []string{"max_streams"}},
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
			assert.Equal(t, c.want, got.OpenShiftAI.Live)
		})
	}
}
