package live

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Parameters of the stream request.
const (
	ParamRefresh   = "refresh"
	ParamRange     = "range"
	ParamVarPrefix = "var-"
)

// Defaults of the stream's time range and query resolution.
const (
	// DefaultRange is the range of a dashboard without spec.duration.
	DefaultRange = time.Hour
	// DefaultMinStep is a query's minStep when it sets none (the Prometheus plugin's
	// default scrape interval).
	DefaultMinStep = 15 * time.Second
	// MaxPoints is how many points a range query asks for at most.
	MaxPoints = 250
)

// Params are the stream's parameters.
type Params struct {
	// Vars are the values of variables, in the order given.
	Vars map[string][]string
	// Refresh and Range are what the stream asks for; 0: the dashboard's.
	Refresh, Range time.Duration
}

var variableName = regexp.MustCompile(`^\w+$`)

// forbiddenInValues are the characters a variable value may not hold: pasted into
// PromQL, they could end a string (three quote characters), escape (backslash), or open
// or close a selector. The tenancy enforcer would still confine whatever came of it,
// but the user is told instead.
const forbiddenInValues = "\"'`\\\n\r{}"

// ParseParams reads the stream's parameters: refresh (at least minInterval), range,
// and var-<name>; anything else is refused.
func ParseParams(q url.Values, minInterval time.Duration) (Params, error) {
	p := Params{Vars: map[string][]string{}}
	for key, values := range q {
		switch {
		case key == ParamRefresh || key == ParamRange:
			if len(values) != 1 {
				return p, fmt.Errorf("%w: %s given %d times", ErrBadRequest, key, len(values))
			}
			d, err := model.ParseDuration(values[0])
			if err != nil || d <= 0 {
				return p, fmt.Errorf("%w: %s %q is not a positive duration (e.g. 15s, 1h)", ErrBadRequest, key, values[0])
			}
			if key == ParamRange {
				p.Range = time.Duration(d)
				continue
			}
			if time.Duration(d) < minInterval {
				return p, fmt.Errorf("%w: refresh %s is below the minimum interval %s (openshift_ai.live.min_interval)", ErrBadRequest, d, model.Duration(minInterval))
			}
			p.Refresh = time.Duration(d)
		case strings.HasPrefix(key, ParamVarPrefix):
			name := strings.TrimPrefix(key, ParamVarPrefix)
			if !variableName.MatchString(name) {
				return p, fmt.Errorf("%w: %q is not a variable name (letters, digits and _)", ErrBadRequest, name)
			}
			if strings.HasPrefix(name, "__") {
				return p, fmt.Errorf("%w: variable %q: names starting with __ are the server's built-ins", ErrBadRequest, name)
			}
			for _, v := range values {
				if err := CheckValue(name, v); err != nil {
					return p, err
				}
			}
			p.Vars[name] = slices.Clone(values)
		default:
			return p, fmt.Errorf("%w: unknown parameter %q (refresh, range, var-<name>)", ErrBadRequest, key)
		}
	}
	return p, nil
}

// CheckValue refuses a variable value that could change the structure of a query.
func CheckValue(name, value string) error {
	if i := strings.IndexAny(value, forbiddenInValues); i >= 0 {
		return fmt.Errorf("%w: variable %q: its value may not contain %q (quotes, backslashes, newlines and braces are refused)", ErrBadRequest, name, value[i:i+1])
	}
	return nil
}

// Canonical is the variables in one stable form: the key of the streams that share a poller.
func Canonical(vars map[string][]string) string {
	v := url.Values{}
	for name, values := range vars {
		v[name] = values
	}
	return v.Encode()
}

// Step is a range query's resolution: range / MaxPoints in whole seconds (rounded up),
// at least minStep (DefaultMinStep when 0), at least 1 s.
func Step(rng, minStep time.Duration) time.Duration {
	if minStep <= 0 {
		minStep = DefaultMinStep
	}
	step := time.Duration(math.Ceil(rng.Seconds()/MaxPoints)) * time.Second
	minStep = time.Duration(math.Ceil(minStep.Seconds())) * time.Second
	return max(step, minStep, time.Second)
}

// Builtins are the values of the built-in variables of a query with this range, step
// and minStep, as the Prometheus plugin defines them ($__rate_interval is
// max($__interval + minStep, 4 × minStep)).
func Builtins(rng, step, minStep time.Duration) map[string]string {
	if minStep <= 0 {
		minStep = DefaultMinStep
	}
	return map[string]string{
		"__interval":      model.Duration(step).String(),
		"__interval_ms":   strconv.FormatInt(step.Milliseconds(), 10),
		"__rate_interval": model.Duration(max(step+minStep, 4*minStep)).String(),
		"__range":         model.Duration(rng).String(),
		"__range_s":       strconv.FormatInt(int64(rng.Seconds()), 10),
		"__range_ms":      strconv.FormatInt(rng.Milliseconds(), 10),
	}
}

// reference is the syntax of a variable reference, as the Perses UI reads it: $name,
// ${name} and ${name:format}.
var reference = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::([^}]+))?\}`)

// Substitute replaces the references to built-ins and to vars in expr; references to
// anything else are left as they are (the query then fails at Prometheus, and the
// panel event says why).
func Substitute(expr string, vars map[string][]string, builtins map[string]string) string {
	return reference.ReplaceAllStringFunc(expr, func(ref string) string {
		m := reference.FindStringSubmatch(ref)
		name, format := m[1], m[3]
		if name == "" {
			name = m[2]
		}
		if v, ok := builtins[name]; ok {
			return v
		}
		if values, ok := vars[name]; ok {
			return Interpolate(values, format)
		}
		return ref
	})
}

// References are the names expr refers to.
func References(expr string) []string {
	var names []string
	for _, m := range reference.FindAllStringSubmatch(expr, -1) {
		if m[1] != "" {
			names = append(names, m[1])
		} else {
			names = append(names, m[2])
		}
	}
	return names
}

// Interpolate formats a variable's values as the Perses UI does for the formats that
// make sense in PromQL: one value is itself (raw), several are a regex alternation
// (prometheus); csv/raw, pipe, regex, doublequote, singlequote, glob and prometheus are
// understood; any other format is raw.
func Interpolate(values []string, format string) string {
	if format == "" {
		format = "raw"
		if len(values) > 1 {
			format = "prometheus"
		}
	}
	quoted := func(q string) string {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = q + v + q
		}
		return strings.Join(out, ",")
	}
	switch strings.ToLower(format) {
	case "pipe":
		return strings.Join(values, "|")
	case "regex":
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = regexp.QuoteMeta(v)
		}
		return "(" + strings.Join(out, "|") + ")"
	case "prometheus":
		return "(" + strings.Join(values, "|") + ")"
	case "doublequote":
		return quoted(`"`)
	case "singlequote":
		return quoted(`'`)
	case "glob":
		return "{" + strings.Join(values, ",") + "}"
	default:
		return strings.Join(values, ",")
	}
}
