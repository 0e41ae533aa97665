package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/tidwall/gjson"
)

// maxAnswer bounds an answer read by Query.
const maxAnswer = 32 << 20

// Query runs one Prometheus API request for the server's own callers (live updates):
// confined to the project's namespace like every proxied query, through the datasource
// named (a dashboard's own datasource when dashboard is set and defines it, else the
// project's), or the default Prometheus datasource when name is empty (the dashboard's,
// the project's, then the global one, which is confined to the project too). It answers
// the status and body of Prometheus; a refusal is an error with its message.
func (p *Proxy) Query(ctx context.Context, project, dashboard, name, apiPath string, form url.Values) (int, []byte, error) {
	a, err := apiOf(apiPath)
	if err != nil {
		return 0, nil, err
	}
	ds := "live/" + name
	spec, err := p.resolve(project, dashboard, name)
	if err != nil {
		p.Metrics.refused(ds, reasonOf(err))
		return 0, nil, err
	}
	t, err := parseTarget(name, spec)
	if err != nil {
		p.Metrics.refused(ds, reasonOf(err))
		return 0, nil, err
	}
	enforced, err := p.Enforcer.enforceForm(a, form, project)
	if err != nil {
		p.Metrics.refused(ds, reasonOf(err))
		return 0, nil, err
	}
	if t.secret {
		err := refuse(http.StatusBadGateway, "datasource", "datasource %q authenticates with a Perses secret: live updates query datasources without one", name)
		p.Metrics.refused(ds, err.reason)
		return 0, nil, err
	}
	p.Metrics.enforced(ds)
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	resp, err := p.Do(ctx, t, outgoing{api: a, form: enforced}, nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, body, err
}

// StatusOf is the HTTP status of an error from Query (500 for unexpected ones).
func StatusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return http.StatusInternalServerError
}

func reasonOf(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return se.reason
	}
	return "internal"
}

func (p *Proxy) resolve(project, dashboard, name string) (json.RawMessage, error) {
	if name != "" {
		if dashboard != "" {
			if spec, err := p.Store.DashboardDatasource(project, dashboard, name); err == nil {
				return spec, nil
			}
		}
		return p.lookup(Route{Kind: RouteProject, Project: project, Name: name})
	}
	ds, ok := p.Store.(defaults)
	if !ok {
		return nil, refuse(http.StatusNotFound, "not_found", "no default Prometheus datasource")
	}
	spec, err := ds.DefaultDatasource(project, dashboard)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(http.StatusNotFound, "not_found", "project %q has no default Prometheus datasource", project)
	}
	if err != nil {
		return nil, refuse(http.StatusServiceUnavailable, "unavailable", "the store cannot be read")
	}
	return spec, nil
}

// defaults finds default datasources.
type defaults interface {
	DefaultDatasource(project, dashboard string) (json.RawMessage, error)
}

func isDefaultPrometheus(spec []byte) bool {
	return gjson.GetBytes(spec, "default").Bool() && gjson.GetBytes(spec, "plugin.kind").String() == PrometheusKind
}

// DefaultDatasource: the dashboard's default Prometheus datasource, else the project's,
// else the global one.
func (s daoStore) DefaultDatasource(project, dashboard string) (json.RawMessage, error) {
	if dashboard != "" {
		d, err := s.m.Persistence().GetDashboard().Get(project, dashboard)
		if err == nil {
			for _, spec := range d.Spec.Datasources {
				if raw, _ := json.Marshal(spec); isDefaultPrometheus(raw) {
					return raw, nil
				}
			}
		}
	}
	q, err := extend.NewQuery(v1.KindDatasource, project, "")
	if err != nil {
		return nil, err
	}
	var list []*v1.Datasource
	if err := s.m.Persistence().GetPersesDAO().Query(q, &list); err != nil {
		return nil, err
	}
	for _, d := range list {
		if raw, _ := json.Marshal(d.Spec); isDefaultPrometheus(raw) {
			return raw, nil
		}
	}
	gq, err := extend.NewQuery(v1.KindGlobalDatasource, "", "")
	if err != nil {
		return nil, err
	}
	var globals []*v1.GlobalDatasource
	if err := s.m.Persistence().GetPersesDAO().Query(gq, &globals); err != nil {
		return nil, err
	}
	for _, d := range globals {
		if raw, _ := json.Marshal(d.Spec); isDefaultPrometheus(raw) {
			return raw, nil
		}
	}
	return nil, ErrNotFound
}
