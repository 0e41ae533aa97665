package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditSettings(t *testing.T) {
	cases := []struct {
		name, body, env string
		want            Audit
		wantErr         []string
	}{
		{name: "off by default", body: "{}\n", want: Audit{AdminVerb: "get", AdminResource: "audit"}},
		{name: "environment", body: "{}\n", env: "true", want: Audit{Enabled: true, AdminVerb: "get", AdminResource: "audit"}},
		{name: "environment turns the file's off", body: "openshift_ai:\n  audit: {enabled: true}\n", env: "false", want: Audit{AdminVerb: "get", AdminResource: "audit"}},
		{name: "file and proxies", body: "openshift_ai:\n  audit: {enabled: true, file: /tmp/a.jsonl, trusted_proxies: [10.0.0.0/8, 192.0.2.1], admin_verb: list}\n",
			want: Audit{Enabled: true, File: "/tmp/a.jsonl", TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1"}, AdminVerb: "list", AdminResource: "audit"}},
		{name: "bad environment", body: "{}\n", env: "yes please", wantErr: []string{EnvAuditLogging}},
		{name: "bad values", body: "openshift_ai:\n  audit: {enabled: true, file: /nowhere/a.jsonl, trusted_proxies: [proxy.example], admin_resource: ''}\n",
			wantErr: []string{"openshift_ai.audit.file", "openshift_ai.audit.trusted_proxies", "proxy.example", "admin_resource"}},
		{name: "unknown key", body: "openshift_ai:\n  audit: {enable: true}\n", wantErr: []string{"enable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvPrometheusURL, "")
			t.Setenv(EnvAuditLogging, c.env)
			got, err := Load(writeConfig(t, c.body))
			if len(c.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range c.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got.OpenShiftAI.Audit)
		})
	}
}
