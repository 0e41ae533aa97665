package audit

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// HeaderRequestID carries the request id in and out.
const HeaderRequestID = "X-Request-Id"

// requestID keeps a client's id when it is short and plain, and makes one otherwise.
func requestID(in string) string {
	if in != "" && len(in) <= 128 && strings.IndexFunc(in, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r))
	}) < 0 {
		return in
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SourceExtractor returns the source address: the connection's peer, or, when that
// peer is one of the trusted proxies, the right-most untrusted X-Forwarded-For entry.
// Without trusted proxies X-Forwarded-For is never believed.
func SourceExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// target is what a request path names: kind, project, name, and the route pattern
// (used when the request was refused before routing).
type target struct {
	kind, project, name, pattern string
}

// kinds names the Perses kind of each plural path segment.
var kinds = map[string]string{
	"projects": "Project", "dashboards": "Dashboard", "ephemeraldashboards": "EphemeralDashboard",
	"datasources": "Datasource", "folders": "Folder", "secrets": "Secret", "variables": "Variable",
	"globaldatasources": "GlobalDatasource", "globalsecrets": "GlobalSecret", "globalvariables": "GlobalVariable",
	"roles": "Role", "rolebindings": "RoleBinding", "globalroles": "GlobalRole", "globalrolebindings": "GlobalRoleBinding",
	"users": "User", "user": "User", "audit": "Audit",
}

func kindOf(segment string) string {
	if k, ok := kinds[segment]; ok {
		return k
	}
	return segment
}

// targetOf reads a path (without the API prefix).
func targetOf(path string) target {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) >= 3 && segs[0] == "api" && segs[1] == "v1" && segs[2] == "projects":
		t := target{kind: "Project", pattern: "/api/v1/projects"}
		if len(segs) >= 4 {
			t.project, t.name, t.pattern = segs[3], segs[3], t.pattern+"/:project"
		}
		if len(segs) >= 5 {
			t.kind, t.name, t.pattern = kindOf(segs[4]), "", t.pattern+"/"+segs[4]
		}
		if len(segs) >= 6 {
			t.name, t.pattern = segs[5], t.pattern+"/:name"
		}
		if len(segs) > 6 {
			t.pattern += "/" + strings.Join(segs[6:], "/")
		}
		return t
	case len(segs) >= 3 && segs[0] == "api" && segs[1] == "v1":
		t := target{kind: kindOf(segs[2]), pattern: "/api/v1/" + segs[2]}
		if len(segs) >= 4 {
			t.name, t.pattern = segs[3], t.pattern+"/:name"
		}
		if len(segs) > 4 {
			t.pattern += "/" + strings.Join(segs[4:], "/")
		}
		return t
	case len(segs) >= 3 && segs[0] == "proxy" && segs[1] == "projects":
		t := target{kind: "Datasource", project: segs[2], pattern: "/proxy/projects/:project"}
		if len(segs) >= 5 {
			t.name, t.pattern = segs[4], t.pattern+"/"+segs[3]+"/:name/*"
		}
		return t
	}
	return target{pattern: path}
}

// audited says whether a request is recorded: a mutation under /api, a 401 or 403
// anywhere, a login or logout route.
func audited(method, path string, status int) bool {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return true
	}
	if isSession(path) {
		return true
	}
	if !strings.HasPrefix(path, "/api/") {
		return false
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// isSession says whether path is a browser login or logout route (upstream's
// /api/auth/... and the identity capability's /oauth/...).
func isSession(path string) bool {
	if !strings.HasPrefix(path, "/oauth/") && !strings.HasPrefix(path, "/api/auth/") {
		return false
	}
	last := path[strings.LastIndex(path, "/")+1:]
	switch last {
	case "login", "logout", "callback":
		return true
	}
	return false
}
