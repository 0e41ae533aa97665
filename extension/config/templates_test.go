package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplatesSettings(t *testing.T) {
	cases := []struct {
		name, body string
		want       Templates
		wantErr    []string
	}{
		{name: "defaults: on, 10 minutes", body: "{}\n", want: Templates{AutoProvision: true, ProvisionTTL: Duration(10 * time.Minute)}},
		{name: "set", body: "openshift_ai:\n  templates: {provision_ttl: 2s}\n", want: Templates{AutoProvision: true, ProvisionTTL: Duration(2 * time.Second)}},
		{name: "off", body: "openshift_ai:\n  templates: {auto_provision: false, provision_ttl: 0s}\n", want: Templates{}},
		{name: "too short", body: "openshift_ai:\n  templates: {provision_ttl: 100ms}\n", wantErr: []string{"openshift_ai.templates.provision_ttl: 100ms, want at least 1s"}},
		{name: "unknown key", body: "openshift_ai:\n  templates: {auto: true}\n", wantErr: []string{"auto"}},
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
			assert.Equal(t, c.want, got.OpenShiftAI.Templates)
		})
	}
}
