// Package tenancy is the pure core of query tenancy: it rewrites PromQL queries and
// match[] selectors so that every selector is pinned to one namespace, and refuses
// what it cannot pin safely. It has no HTTP layer; the proxy wiring maps its sentinel
// errors to status codes in one place.
//
// Most metrics carry the workload's namespace in `namespace`. Some exporters are
// scraped in another namespace and carry the workload's namespace in a second label
// (DCGM GPU metrics: `exported_namespace`), so the label to enforce is chosen per
// selector from a table of metric-name patterns.
package tenancy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus-community/prom-label-proxy/injectproxy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Sentinel errors. Callers test them with errors.Is; every returned error wraps one.
var (
	// ErrBadQuery: the query or selector does not parse.
	ErrBadQuery = errors.New("tenancy: bad query")
	// ErrTooLarge: the query (or the match[] set) is larger than the configured maximum.
	ErrTooLarge = errors.New("tenancy: query too large")
	// ErrConflict: the query carries its own matcher on the enforced label that is not
	// exactly `label="<namespace>"`. Refused rather than rewritten, so a user never gets
	// silently different data from what they asked for.
	ErrConflict = errors.New("tenancy: conflicting namespace matcher")
	// ErrAmbiguousMetric: a selector's metric name is not a finite set of literal names,
	// so the enforcer cannot tell which label carries its namespace.
	ErrAmbiguousMetric = errors.New("tenancy: metric name not concrete enough to choose the namespace label")
	// ErrNamespace: the namespace to enforce is empty (label="" would select series
	// that have no namespace at all).
	ErrNamespace = errors.New("tenancy: empty namespace")
)

// DefaultMaxQueryBytes bounds a query, or the sum of a match[] set, before parsing.
const DefaultMaxQueryBytes = 64 << 10

// MetricLabel routes metrics whose name matches Pattern to Label instead of the
// default tenant label.
type MetricLabel struct {
	// Pattern is a regular expression on the metric name, anchored at both ends as
	// Prometheus anchors `=~` (so `DCGM_.*` and `^DCGM_.*` mean the same).
	Pattern string `json:"pattern" yaml:"pattern"`
	// Label carries the workload's namespace for those metrics.
	Label string `json:"label" yaml:"label"`
}

// Config configures an Enforcer.
type Config struct {
	// Label is the tenant label for metrics not in Metrics. Default "namespace".
	Label string `json:"label" yaml:"label"`
	// Metrics is checked in order; the first matching pattern wins.
	Metrics []MetricLabel `json:"metrics" yaml:"metrics"`
	// MaxQueryBytes bounds the query size. Default DefaultMaxQueryBytes.
	MaxQueryBytes int `json:"maxQueryBytes" yaml:"maxQueryBytes"`
}

// DefaultConfig enforces `namespace`, and `exported_namespace` for the DCGM exporter's
// and accelerator metrics, which are scraped in the GPU operator's namespace.
func DefaultConfig() Config {
	return Config{
		Label: "namespace",
		Metrics: []MetricLabel{
			{Pattern: "DCGM_.*", Label: "exported_namespace"},
			{Pattern: "accelerator_.*", Label: "exported_namespace"},
		},
		MaxQueryBytes: DefaultMaxQueryBytes,
	}
}

func (c *Config) applyDefaults() {
	if c.Label == "" {
		c.Label = "namespace"
	}
	if c.MaxQueryBytes == 0 {
		c.MaxQueryBytes = DefaultMaxQueryBytes
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Label != "" && !validLabelName(c.Label) {
		errs = append(errs, fmt.Errorf("label %q is not a valid label name", c.Label))
	}
	if c.MaxQueryBytes < 0 {
		errs = append(errs, fmt.Errorf("maxQueryBytes %d is negative", c.MaxQueryBytes))
	}
	for i, m := range c.Metrics {
		if m.Pattern == "" {
			errs = append(errs, fmt.Errorf("metrics[%d]: empty pattern", i))
		} else if _, err := regexp.Compile(anchor(m.Pattern)); err != nil {
			errs = append(errs, fmt.Errorf("metrics[%d]: pattern %q: %w", i, m.Pattern, err))
		}
		if !validLabelName(m.Label) {
			errs = append(errs, fmt.Errorf("metrics[%d]: label %q is not a valid label name", i, m.Label))
		}
	}
	return errors.Join(errs...)
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// validLabelName keeps to the legacy charset: enforced labels are written
// unquoted into rewritten queries, and `__name__`-style reserved names are refused.
func validLabelName(s string) bool {
	return labelNameRE.MatchString(s) && !strings.HasPrefix(s, "__")
}

func anchor(p string) string { return "^(?:" + p + ")$" }

type route struct {
	re    *regexp.Regexp
	raw   string
	label string
}

// Enforcer rewrites queries for one configuration; it is safe for concurrent use.
type Enforcer struct {
	label  string
	routes []route
	max    int
	memo   *memo[memoKey, string] // the proxy's enforceForm remembers its answers (memo.go)
}

// New validates cfg, applies defaults and returns an Enforcer.
func New(cfg Config) (*Enforcer, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enforcer{label: cfg.Label, max: cfg.MaxQueryBytes, memo: newMemo[memoKey, string]()}
	for _, m := range cfg.Metrics {
		e.routes = append(e.routes, route{re: regexp.MustCompile(anchor(m.Pattern)), raw: m.Pattern, label: m.Label})
	}
	return e, nil
}

// Enforce parses query and pins every vector and matrix selector (including those in
// subqueries, function arguments and both operands of binary operators) to namespace.
func (e *Enforcer) Enforce(query, namespace string) (string, error) {
	if namespace == "" {
		return "", ErrNamespace
	}
	if len(query) > e.max {
		return "", fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, len(query), e.max)
	}
	expr, err := parser.ParseExpr(query)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	var walkErr error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if walkErr != nil {
			return walkErr
		}
		// A MatrixSelector's VectorSelector is visited as its child, so handling
		// VectorSelector alone covers both.
		if vs, ok := n.(*parser.VectorSelector); ok {
			walkErr = e.pin(vs, namespace)
		}
		return walkErr
	})
	if walkErr != nil {
		return "", walkErr
	}
	return expr.String(), nil
}

// EnforceMatchers pins each match[] series selector of the series, labels and label
// values endpoints. With no selector given it returns selectors that cover exactly the
// namespace's series: one for the default label excluding the table's metrics, and
// one per table entry.
func (e *Enforcer) EnforceMatchers(match []string, namespace string) ([]string, error) {
	if namespace == "" {
		return nil, ErrNamespace
	}
	total := 0
	for _, m := range match {
		total += len(m)
	}
	if total > e.max {
		return nil, fmt.Errorf("%w: match[] totals %d bytes, maximum %d", ErrTooLarge, total, e.max)
	}
	if len(match) == 0 {
		return e.defaultMatchers(namespace), nil
	}
	out := make([]string, 0, len(match))
	for _, m := range match {
		expr, err := parser.ParseExpr(m)
		if err != nil {
			return nil, fmt.Errorf("%w: match[] %q: %w", ErrBadQuery, m, err)
		}
		vs, ok := expr.(*parser.VectorSelector)
		if !ok {
			return nil, fmt.Errorf("%w: match[] %q is not a series selector", ErrBadQuery, m)
		}
		if err := e.pin(vs, namespace); err != nil {
			return nil, err
		}
		out = append(out, vs.String())
	}
	return out, nil
}

func (e *Enforcer) defaultMatchers(namespace string) []string {
	if len(e.routes) == 0 {
		return []string{(&parser.VectorSelector{LabelMatchers: []*labels.Matcher{
			labels.MustNewMatcher(labels.MatchEqual, e.label, namespace),
		}}).String()}
	}
	pats := make([]string, len(e.routes))
	for i, r := range e.routes {
		pats[i] = "(?:" + r.raw + ")"
	}
	out := []string{(&parser.VectorSelector{LabelMatchers: []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchNotRegexp, labels.MetricName, strings.Join(pats, "|")),
		labels.MustNewMatcher(labels.MatchEqual, e.label, namespace),
	}}).String()}
	// An earlier route shadows a later one for the names both match.
	for i, r := range e.routes {
		ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, r.raw)}
		if i > 0 {
			ms = append(ms, labels.MustNewMatcher(labels.MatchNotRegexp, labels.MetricName, strings.Join(pats[:i], "|")))
		}
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, r.label, namespace))
		out = append(out, (&parser.VectorSelector{LabelMatchers: ms}).String())
	}
	return out
}

// pin chooses the selector's label, refuses conflicts and injects the matcher.
func (e *Enforcer) pin(vs *parser.VectorSelector, namespace string) error {
	label, err := e.labelFor(vs)
	if err != nil {
		return err
	}
	// Stricter than prom-label-proxy's --error-on-replace, which lets through matchers
	// that merely overlap (`!="other"`, `=~"team-.*"`): any matcher on the enforced
	// label other than the exact one is refused.
	for _, m := range vs.LabelMatchers {
		if m.Name == label && (m.Type != labels.MatchEqual || m.Value != namespace) {
			return fmt.Errorf("%w: %s in %s; only %s=%q is allowed", ErrConflict, m, vs, label, namespace)
		}
	}
	enf := injectproxy.NewPromQLEnforcer(true, labels.MustNewMatcher(labels.MatchEqual, label, namespace))
	ms, err := enf.EnforceMatchers(vs.LabelMatchers)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	vs.LabelMatchers = ms
	return nil
}

// labelFor returns the label that carries the namespace for the selector's metrics.
func (e *Enforcer) labelFor(vs *parser.VectorSelector) (string, error) {
	if len(e.routes) == 0 {
		return e.label, nil
	}
	names, ok := concreteNames(vs)
	if !ok {
		return "", fmt.Errorf("%w: %s could select metrics enforced on different labels; name the metric (or a finite list, %s=~\"a|b\")",
			ErrAmbiguousMetric, vs, labels.MetricName)
	}
	chosen := ""
	for _, n := range names {
		l := e.labelForName(n)
		if chosen != "" && l != chosen {
			return "", fmt.Errorf("%w: %s mixes metrics enforced on %q and %q; split the selector", ErrAmbiguousMetric, vs, chosen, l)
		}
		chosen = l
	}
	return chosen, nil
}

func (e *Enforcer) labelForName(name string) string {
	for _, r := range e.routes {
		if r.re.MatchString(name) {
			return r.label
		}
	}
	return e.label
}

// concreteNames returns the literal metric names a selector can match, or false when
// the set is not known to be finite (no name matcher, `!=`, `!~`, open regexes).
func concreteNames(vs *parser.VectorSelector) ([]string, bool) {
	if vs.Name != "" {
		return []string{vs.Name}, true
	}
	var set []string
	found := false
	for _, m := range vs.LabelMatchers {
		if m.Name != labels.MetricName {
			continue
		}
		switch m.Type {
		case labels.MatchEqual:
			return []string{m.Value}, true
		case labels.MatchRegexp:
			frm, err := labels.NewFastRegexMatcher(m.Value)
			if err != nil {
				return nil, false
			}
			sm := frm.SetMatches()
			if len(sm) == 0 {
				return nil, false
			}
			// Every listed literal must really match (case-insensitive set matches
			// may be partial); otherwise treat the regex as open.
			for _, s := range sm {
				if !m.Matches(s) {
					return nil, false
				}
			}
			if !found {
				set, found = sm, true
			}
		}
	}
	return set, found
}
