package config

import (
	"fmt"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"
)

// Secret is a setting that must never be printed: its String and its YAML and JSON
// forms hide it. URLs keep their scheme, host and path so logs stay useful.
type Secret string

// String hides the secret.
func (s Secret) String() string { return s.Redacted() }

// Redacted shows a URL without its password and query, anything else as "<hidden>".
func (s Secret) Redacted() string {
	if s == "" {
		return `""`
	}
	if u, err := url.Parse(string(s)); err == nil && u.Scheme != "" && u.Host != "" {
		u.RawQuery = ""
		return u.Redacted()
	}
	return "<hidden>"
}

// MarshalYAML hides the secret.
func (s Secret) MarshalYAML() (any, error) { return s.Redacted(), nil }

// MarshalJSON hides the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.Redacted())), nil }

// Duration is a time.Duration written as "5s", "250ms".
type Duration time.Duration

// String prints the duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads "5s"-style durations and names the bad value.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 5s, 250ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
