package openshiftfake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	userAPIVersion    = "user.openshift.io/v1"
	projectAPIVersion = "project.openshift.io/v1"
	projectsPath      = "/apis/project.openshift.io/v1/projects"
)

// errNoCredentials marks a request without a bearer token: the real apiserver would treat it
// as system:anonymous, which may not read these resources (403).
var errNoCredentials = errors.New("no bearer token")

// user is user.openshift.io/v1 User, the fields a client reads.
type user struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	FullName          string   `json:"fullName,omitempty"`
	Identities        []string `json:"identities"`
	Groups            []string `json:"groups"`
}

// project is project.openshift.io/v1 Project: a namespace seen through the project API.
type project struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              corev1.NamespaceSpec   `json:"spec"`
	Status            corev1.NamespaceStatus `json:"status"`
}

type projectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []project `json:"items"`
}

// users serves GET /apis/user.openshift.io/v1/users/~ (the caller, from a TokenReview).
func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/apis/user.openshift.io/v1/users/~" {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the fake serves users/~ only")
		return
	}
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the fake serves GET only")
		return
	}
	who, err := s.authenticate(r)
	if err != nil {
		writeAuthError(w, err, "users", "~")
		return
	}
	writeJSON(w, http.StatusOK, user{
		TypeMeta:   metav1.TypeMeta{APIVersion: userAPIVersion, Kind: "User"},
		ObjectMeta: metav1.ObjectMeta{Name: who.Username, UID: types.UID(who.UID)},
		Identities: []string{},
		Groups:     nonNil(who.Groups),
	})
}

// projects serves GET .../projects (the namespaces the caller may get) and GET .../projects/{name}.
func (s *Server) projects(w http.ResponseWriter, r *http.Request) {
	name, single := strings.CutPrefix(r.URL.Path, projectsPath+"/")
	if (!single && r.URL.Path != projectsPath) || (single && (name == "" || strings.Contains(name, "/"))) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the fake serves projects and projects/{name} only")
		return
	}
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the fake serves GET only")
		return
	}
	who, err := s.authenticate(r)
	if err != nil {
		writeAuthError(w, err, "projects", name)
		return
	}
	ctx := r.Context()
	if single {
		allowed, err := s.mayGetNamespace(ctx, who, name)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
			return
		}
		if !allowed {
			writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden, fmt.Sprintf(
				`projects.project.openshift.io %q is forbidden: User %q cannot get resource "projects" in API group "project.openshift.io" in the namespace %q`,
				name, who.Username, name))
			return
		}
		ns, err := s.admin.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(`projects.project.openshift.io %q not found`, name))
			return
		}
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, asProject(ns))
		return
	}

	// One SubjectAccessReview per namespace: fine for a test cluster of a few namespaces.
	namespaces, err := s.admin.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	list := projectList{TypeMeta: metav1.TypeMeta{APIVersion: projectAPIVersion, Kind: "ProjectList"}, Items: []project{}}
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		allowed, err := s.mayGetNamespace(ctx, who, ns.Name)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
			return
		}
		if allowed {
			list.Items = append(list.Items, asProject(ns))
		}
	}
	slices.SortFunc(list.Items, func(a, b project) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, list)
}

// authenticate asks the real kube-apiserver who the caller's bearer token belongs to.
func (s *Server) authenticate(r *http.Request) (authenticationv1.UserInfo, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return authenticationv1.UserInfo{}, errNoCredentials
	}
	review, err := s.admin.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("token review: %w", err)
	}
	if !review.Status.Authenticated {
		return authenticationv1.UserInfo{}, errUnauthorized
	}
	return review.Status.User, nil
}

var errUnauthorized = errors.New("token not accepted")

// mayGetNamespace asks the real kube-apiserver whether who may get namespace name, the
// question OpenShift's project list answers per namespace.
func (s *Server) mayGetNamespace(ctx context.Context, who authenticationv1.UserInfo, name string) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(who.Extra))
	for k, v := range who.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review, err := s.admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: who.Username, Groups: who.Groups, UID: who.UID, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "namespaces", Namespace: name, Name: name},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	return review.Status.Allowed, nil
}

func asProject(ns *corev1.Namespace) project {
	meta := *ns.ObjectMeta.DeepCopy()
	meta.ManagedFields = nil
	return project{
		TypeMeta:   metav1.TypeMeta{APIVersion: projectAPIVersion, Kind: "Project"},
		ObjectMeta: meta,
		Spec:       ns.Spec,
		Status:     ns.Status,
	}
}

func writeAuthError(w http.ResponseWriter, err error, resource, name string) {
	switch {
	case errors.Is(err, errNoCredentials):
		writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden, fmt.Sprintf(
			`%s %q is forbidden: User "system:anonymous" cannot get resource %q`, resource, name, resource))
	case errors.Is(err, errUnauthorized):
		writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
	default:
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
	}
}

// writeStatus writes a Kubernetes Status, the error body every API client expects.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
