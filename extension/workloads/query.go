package workloads

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ProxyQuery is the tenancy proxy's Query (tenancy.Current().Query): one Prometheus API
// request confined to the project's namespace, through the project's default
// Prometheus datasource when name is "".
type ProxyQuery func(ctx context.Context, project, dashboard, name, apiPath string, form url.Values) (int, []byte, error)

// TenancyQuery runs instant queries through the tenancy proxy's enforcement.
func TenancyQuery(p ProxyQuery) QueryFunc {
	return func(ctx context.Context, project, query string, at time.Time) ([]Sample, error) {
		form := url.Values{"query": {query}}
		if !at.IsZero() {
			form.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', -1, 64))
		}
		status, body, err := p(ctx, project, "", "", "/api/v1/query", form)
		if err != nil {
			return nil, err
		}
		return ParseInstant(status, body)
	}
}

// ParseInstant reads Prometheus' answer to an instant query (a vector or a scalar).
func ParseInstant(status int, body []byte) ([]Sample, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("Prometheus answered %d, not its API's JSON: %s", status, excerpt(body))
	}
	if status != http.StatusOK || r.Status != "success" {
		msg := r.Error
		if msg == "" {
			msg = excerpt(body)
		}
		return nil, fmt.Errorf("Prometheus answered %d: %s", status, msg)
	}
	switch r.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return nil, fmt.Errorf("Prometheus' vector: %w", err)
		}
		out := make([]Sample, 0, len(vec))
		for _, s := range vec {
			v, err := sampleValue(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Labels: s.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(r.Data.Result, &sc); err != nil {
			return nil, fmt.Errorf("Prometheus' scalar: %w", err)
		}
		v, err := sampleValue(sc)
		if err != nil {
			return nil, err
		}
		return []Sample{{Value: v}}, nil
	}
	return nil, fmt.Errorf("Prometheus answered a %q, not an instant vector", r.Data.ResultType)
}

func sampleValue(p [2]any) (float64, error) {
	s, ok := p[1].(string)
	if !ok {
		return 0, fmt.Errorf("Prometheus' sample value %v is not a string", p[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("Prometheus' sample value %q: %w", s, err)
	}
	return v, nil
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
