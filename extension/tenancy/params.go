package tenancy

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// readParams reads a Prometheus API request's parameters from its query string and,
// for POST, its form body. Refused with 400: a malformed encoding, a parameter the
// endpoint does not take, a single-valued parameter given twice, a parameter given both
// in the URL and in the body, a body that is not a form; with 413 a body over maxBody.
func readParams(method, rawQuery, contentType string, body []byte, a api) (url.Values, error) {
	if method != http.MethodGet && method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, "method", "method %s is not allowed on the Prometheus API: use GET or POST", method)
	}
	inURL, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "params", "the query string is malformed: %v", err)
	}
	inBody := url.Values{}
	if len(body) > 0 {
		if method != http.MethodPost {
			return nil, refuse(http.StatusBadRequest, "params", "a %s request carries no body", method)
		}
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, refuse(http.StatusBadRequest, "params", "the body must be application/x-www-form-urlencoded, not %q", contentType)
		}
		if inBody, err = url.ParseQuery(string(body)); err != nil {
			return nil, refuse(http.StatusBadRequest, "params", "the form body is malformed: %v", err)
		}
	}
	out := url.Values{}
	for _, src := range []url.Values{inURL, inBody} {
		for k, vs := range src {
			if !slices.Contains(a.params, k) && !slices.Contains(thanosParams, k) {
				return nil, refuse(http.StatusBadRequest, "params", "parameter %q is not taken by %s (it takes %s)", k, a.path, strings.Join(a.params, ", "))
			}
			if _, both := out[k]; both {
				return nil, refuse(http.StatusBadRequest, "params", "parameter %q is given both in the URL and in the body: give it once", k)
			}
			if k != "match[]" && len(vs) > 1 {
				return nil, refuse(http.StatusBadRequest, "params", "parameter %q is given %d times: give it once", k, len(vs))
			}
			out[k] = vs
		}
	}
	return out, nil
}

// enforceForm pins the parameters that select series to the namespace: the PromQL
// expression of the query endpoints, the match[] selectors of the others (added when
// absent). Refusals map the enforcer's sentinels to statuses here, in one place.
func (e *Enforcer) enforceForm(a api, form url.Values, namespace string) (url.Values, error) {
	out := url.Values{}
	for k, v := range form {
		out[k] = slices.Clone(v)
	}
	if a.query {
		q := form.Get("query")
		if strings.TrimSpace(q) == "" {
			return nil, refuse(http.StatusBadRequest, "bad_query", "parameter \"query\" is required by %s", a.path)
		}
		enforced, err := e.enforceMemo(q, namespace)
		if err != nil {
			return nil, enforcerError(err)
		}
		out.Set("query", enforced)
		return out, nil
	}
	m, err := e.EnforceMatchers(form["match[]"], namespace)
	if err != nil {
		return nil, enforcerError(err)
	}
	out["match[]"] = m
	return out, nil
}

// enforcerError is the one place the enforcer's sentinels become statuses and reasons.
func enforcerError(err error) *statusError {
	msg := strings.TrimPrefix(err.Error(), "tenancy: ")
	switch {
	case errors.Is(err, ErrTooLarge):
		return refuse(http.StatusBadRequest, "too_large", "%s", msg)
	case errors.Is(err, ErrBadQuery):
		return refuse(http.StatusBadRequest, "bad_query", "%s", msg)
	case errors.Is(err, ErrConflict):
		return refuse(http.StatusForbidden, "conflict", "%s", msg)
	case errors.Is(err, ErrAmbiguousMetric):
		return refuse(http.StatusForbidden, "ambiguous_metric", "%s", msg)
	default:
		return refuse(http.StatusInternalServerError, "internal", "%s", msg)
	}
}
