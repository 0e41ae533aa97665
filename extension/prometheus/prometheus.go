// Package prometheus provides the product's default metrics datasource: a global
// Prometheus datasource, named and located by the openshift_ai.prometheus settings
// (PROMETHEUS_URL overrides the URL), written at every start so the configuration
// stays the source of truth.
package prometheus

import (
	"encoding/json"
	"fmt"

	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/sirupsen/logrus"
)

// Datasource returns the global datasource for the settings.
func Datasource(p config.Prometheus) (*v1.GlobalDatasource, error) {
	doc := map[string]any{
		"kind":     v1.KindGlobalDatasource,
		"metadata": map[string]any{"name": p.DatasourceName},
		"spec": map[string]any{
			"display": map[string]any{"name": "Prometheus", "description": "Managed by the server configuration (openshift_ai.prometheus)"},
			"default": true,
			"plugin": map[string]any{
				"kind": "PrometheusDatasource",
				"spec": map[string]any{
					"proxy": map[string]any{"kind": "HTTPProxy", "spec": map[string]any{"url": p.URL}},
				},
			},
		},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	ds := &v1.GlobalDatasource{}
	if err := json.Unmarshal(raw, ds); err != nil {
		return nil, fmt.Errorf("prometheus: the default datasource %q is invalid: %w", p.DatasourceName, err)
	}
	ds.Metadata.CreateNow()
	return ds, nil
}

// Setup writes the default datasource into the store.
func Setup(h *host.Host) error {
	p := h.Config.OpenShiftAI.Prometheus
	if p.DatasourceName == "" {
		return nil
	}
	ds, err := Datasource(p)
	if err != nil {
		return err
	}
	if err := h.Deps.Persistence().GetPersesDAO().Upsert(ds); err != nil {
		return fmt.Errorf("prometheus: cannot write the global datasource %q: %w", p.DatasourceName, err)
	}
	logrus.Infof("global datasource %q points at %s", p.DatasourceName, p.URL)
	return nil
}
