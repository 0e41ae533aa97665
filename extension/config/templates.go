package config

import (
	"fmt"
	"time"
)

// Templates configures the workload dashboard templates (extension/templates/README.md).
// The templates themselves are code; what is set here is auto-provisioning: every
// project gets the template dashboards of the workload types it runs.
type Templates struct {
	// AutoProvision gives a project, when a request first names it, a dashboard per
	// workload type it runs (default on). It needs the server's cluster connection
	// (openshift_ai.kubernetes) and its right to list the workload resources
	// (overlays/base/rbac-provision.yaml).
	AutoProvision bool `json:"auto_provision" yaml:"auto_provision"`
	// ProvisionTTL is how long a project is left alone after a provisioning pass: the
	// next request naming it after that runs another (new workload types get their
	// dashboards, untouched dashboards their template's new version).
	ProvisionTTL Duration `json:"provision_ttl" yaml:"provision_ttl"`
}

// Defaults of the templates section.
const DefaultTemplatesProvisionTTL = Duration(10 * time.Minute)

func defaultTemplates() Templates {
	return Templates{AutoProvision: true, ProvisionTTL: DefaultTemplatesProvisionTTL}
}

func (t Templates) validate() []error {
	if t.AutoProvision && t.ProvisionTTL < Duration(time.Second) {
		return []error{fmt.Errorf("openshift_ai.templates.provision_ttl: %s, want at least 1s", t.ProvisionTTL)}
	}
	return nil
}
