package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvAuditLogging switches audit records on ("true") or off ("false").
const EnvAuditLogging = "ENABLE_AUDIT_LOGGING"

// Audit configures the audit records of mutations, denials, logins and logouts.
type Audit struct {
	// Enabled (or ENABLE_AUDIT_LOGGING=true) records them.
	Enabled bool `json:"enabled" yaml:"enabled"`
	// File receives the records as JSON lines (appended); empty means standard output.
	File string `json:"file" yaml:"file"`
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For is believed for
	// the source address; none by default (the connection's peer is the source).
	TrustedProxies []string `json:"trusted_proxies" yaml:"trusted_proxies"`
	// AdminVerb and AdminResource are the cluster-wide SubjectAccessReview (in
	// access.api_group) that lets a user read the records.
	AdminVerb     string `json:"admin_verb" yaml:"admin_verb"`
	AdminResource string `json:"admin_resource" yaml:"admin_resource"`
}

// Defaults of the audit section.
const (
	DefaultAuditAdminVerb     = "get"
	DefaultAuditAdminResource = "audit"
)

func defaultAudit() Audit {
	return Audit{AdminVerb: DefaultAuditAdminVerb, AdminResource: DefaultAuditAdminResource}
}

// applyEnv applies ENABLE_AUDIT_LOGGING.
func (a *Audit) applyEnv() error {
	v, ok := os.LookupEnv(EnvAuditLogging)
	if !ok || v == "" {
		return nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%s: %q is not true or false", EnvAuditLogging, v)
	}
	a.Enabled = on
	return nil
}

func (a Audit) validate() []error {
	if !a.Enabled {
		return nil
	}
	var errs []error
	for _, p := range a.TrustedProxies {
		if _, err := ParseTrustedProxy(p); err != nil {
			errs = append(errs, fmt.Errorf("openshift_ai.audit.trusted_proxies: %q is not an IP address or CIDR", p))
		}
	}
	if a.File != "" {
		if st, err := os.Stat(filepath.Dir(a.File)); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("openshift_ai.audit.file: the folder of %q does not exist", a.File))
		}
	}
	if strings.TrimSpace(a.AdminVerb) == "" || strings.TrimSpace(a.AdminResource) == "" {
		errs = append(errs, errors.New("openshift_ai.audit.admin_verb/admin_resource: empty, want e.g. get audit"))
	}
	return errs
}

// ParseTrustedProxy reads an address ("10.0.0.1") or a CIDR ("10.0.0.0/8").
func ParseTrustedProxy(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address", s)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	return n, err
}
