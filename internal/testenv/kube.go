package testenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// EnvKubeToolsDir names the folder holding the kube-apiserver, kube-controller-manager and etcd binaries.
const EnvKubeToolsDir = "KUBE_TOOLS_DIR"

// EnvKeepDirs, set to 1, keeps the working folders (logs, etcd data, keys) after Stop.
const EnvKeepDirs = "TESTENV_KEEP_DIRS"

// SystemMasters is the group kube-apiserver lets do anything, RBAC or not.
const SystemMasters = "system:masters"

// KubeUser is one identity of the static token file.
type KubeUser struct {
	Name   string
	Groups []string
}

// DefaultKubeUsers are the identities StartKube registers unless told otherwise: an admin,
// and three users whose groups tests bind roles to (alice: team-a, bob: team-b,
// carol: auditors).
func DefaultKubeUsers() []KubeUser {
	return []KubeUser{
		{Name: "admin", Groups: []string{SystemMasters}},
		{Name: "alice", Groups: []string{"team-a"}},
		{Name: "bob", Groups: []string{"team-b"}},
		{Name: "carol", Groups: []string{"auditors"}},
	}
}

// KubeOptions configures StartKube. The zero value is ready to use.
type KubeOptions struct {
	// ToolsDir holds kube-apiserver, kube-controller-manager and etcd: $KUBE_TOOLS_DIR, else <repo>/build/tools.
	ToolsDir string
	// Users of the static token file; DefaultKubeUsers when empty. One must be in system:masters.
	Users []KubeUser
	// Dir is the working folder (logs, etcd data, keys, tokens). When empty, a new temporary
	// folder that Stop removes (unless TESTENV_KEEP_DIRS=1).
	Dir string
	// ReadyTimeout bounds the start when ctx has no earlier deadline; 60 s when zero.
	ReadyTimeout time.Duration
	// ExtraAPIServerArgs are appended to kube-apiserver's flags (a later flag wins).
	ExtraAPIServerArgs []string
	// Controllers run by kube-controller-manager: DefaultControllers when nil.
	Controllers []string
	// NoControllerManager starts no kube-controller-manager: ~0.4 s faster, but the aggregated
	// ClusterRoles (admin, edit, view) stay empty, namespaces get no "default" service account
	// and deleted ones stay Terminating.
	NoControllerManager bool
}

// DefaultControllers are what kube-controller-manager runs unless told otherwise: the
// controllers RBAC and namespaces need to behave as in a cluster (aggregated ClusterRoles get
// their rules, deleted namespaces are emptied and go away, every namespace has a "default"
// service account), and no more (no pods, nodes or garbage collection: nothing runs here).
func DefaultControllers() []string {
	return []string{"clusterrole-aggregation-controller", "namespace-controller", "serviceaccount-controller", "serviceaccount-token-controller"}
}

// kubeIdentity is a user with the two bearer tokens registered for it.
type kubeIdentity struct {
	KubeUser
	token          string
	openShiftToken string
}

// Kube is a running kube-apiserver backed by its own etcd, with a kube-controller-manager
// running a few controllers (KubeOptions.Controllers), all on loopback. Authentication is by
// bearer tokens of a static token file, authorization by RBAC. Every user has two tokens: a
// plain one (Token) and one shaped like an OpenShift OAuth access token (OpenShiftToken,
// "sha256~..."), so that a fake OAuth server can hand out tokens the real TokenReview accepts.
// There are no nodes and no scheduler: pods are stored but never run.
type Kube struct {
	// URL is the https endpoint of kube-apiserver.
	URL string
	// CAData is the PEM of the CA that signed the serving certificate.
	CAData []byte
	// Dir holds the logs (etcd.log, kube-apiserver.log, kube-controller-manager.log), etcd's
	// data and the generated files (ca.crt, tokens.csv, keys).
	Dir string
	// Admin is a clientset as the first user in system:masters.
	Admin kubernetes.Interface

	adminUser string
	users     map[string]kubeIdentity
	order     []string
	etcd      *process
	apiserver *process
	kcm       *process
	removeDir bool
}

// StartKube starts etcd, kube-apiserver and kube-controller-manager on free loopback ports
// and waits until kube-apiserver is ready and the aggregated ClusterRoles have their rules.
// Stop ends them all. It takes about 3 s.
func StartKube(ctx context.Context, opts KubeOptions) (_ *Kube, err error) {
	tools, err := kubeToolsDir(opts.ToolsDir)
	if err != nil {
		return nil, err
	}
	users := opts.Users
	if len(users) == 0 {
		users = DefaultKubeUsers()
	}
	k := &Kube{users: make(map[string]kubeIdentity, len(users))}
	for _, u := range users {
		if _, dup := k.users[u.Name]; dup || u.Name == "" {
			return nil, fmt.Errorf("testenv: user name %q empty or given twice", u.Name)
		}
		id := kubeIdentity{KubeUser: u, token: u.Name + "-" + randomHex(16), openShiftToken: NewOpenShiftToken()}
		k.users[u.Name] = id
		k.order = append(k.order, u.Name)
		if k.adminUser == "" && slices.Contains(u.Groups, SystemMasters) {
			k.adminUser = u.Name
		}
	}
	if k.adminUser == "" {
		return nil, errors.New("testenv: StartKube needs a user in group " + SystemMasters)
	}

	k.Dir = opts.Dir
	if k.Dir == "" {
		if k.Dir, err = os.MkdirTemp("", "testenv-kube-"); err != nil {
			return nil, err
		}
		k.removeDir = os.Getenv(EnvKeepDirs) != "1"
	}
	defer func() {
		if err != nil {
			_ = k.Stop()
		}
	}()

	files, err := k.writeFiles()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	k.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()

	k.etcd, err = startProcess("etcd", filepath.Join(k.Dir, "etcd.log"), nil, nil, filepath.Join(tools, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(k.Dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=default="+etcdPeer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}

	// kube-apiserver starts at once and waits for etcd on its own: its ~2.5 s of start-up
	// overlap etcd's.
	args := append([]string{
		"--etcd-servers=" + etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		"--tls-cert-file=" + files.cert,
		"--tls-private-key-file=" + files.key,
		"--cert-dir=" + filepath.Join(k.Dir, "certs"),
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + files.saPub,
		"--service-account-signing-key-file=" + files.saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}, opts.ExtraAPIServerArgs...)
	k.apiserver, err = startProcess("kube-apiserver", filepath.Join(k.Dir, "kube-apiserver.log"), nil, nil,
		filepath.Join(tools, "kube-apiserver"), args...)
	if err != nil {
		return nil, err
	}
	secure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: files.ca.CertPool()}}}
	defer secure.CloseIdleConnections()
	if err := k.apiserver.waitReady(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		return httpOK(ctx, secure, k.URL+"/readyz", k.users[k.adminUser].token)
	}, k.etcd); err != nil {
		return nil, err
	}

	if k.Admin, err = kubernetes.NewForConfig(k.Config(k.adminUser)); err != nil {
		return nil, err
	}
	if !opts.NoControllerManager {
		if err := k.startControllerManager(ctx, tools, files, ports[3], opts.Controllers); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// startControllerManager runs kube-controller-manager as the admin and waits until it is
// healthy and has aggregated the "view" ClusterRole (a sign its informers have synced).
func (k *Kube) startControllerManager(ctx context.Context, tools string, files kubeFiles, port int, controllers []string) error {
	if controllers == nil {
		controllers = DefaultControllers()
	}
	kubeconfig := filepath.Join(k.Dir, "controller-manager.kubeconfig")
	if err := k.WriteKubeconfig(kubeconfig, k.adminUser); err != nil {
		return err
	}
	var err error
	k.kcm, err = startProcess("kube-controller-manager", filepath.Join(k.Dir, "kube-controller-manager.log"), nil, nil,
		filepath.Join(tools, "kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--controllers="+strings.Join(controllers, ","),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(k.Dir, "kcm-certs"),
		"--service-account-private-key-file="+files.saKey,
		"--root-ca-file="+files.caFile,
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if !slices.Contains(controllers, "clusterrole-aggregation-controller") {
		return nil
	}
	return k.kcm.waitReady(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		view, err := k.Admin.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(view.Rules) == 0 {
			return errors.New(`ClusterRole "view" not aggregated yet`)
		}
		return nil
	})
}

// kubeFiles are the paths StartKube hands to kube-apiserver.
type kubeFiles struct {
	ca                                      *CA
	caFile, cert, key, tokens, saKey, saPub string
}

// writeFiles writes the serving certificate, the service-account signing keys and the static
// token file into k.Dir, all made fresh at every start.
func (k *Kube) writeFiles() (kubeFiles, error) {
	ca, err := NewCA("testenv kube CA")
	if err != nil {
		return kubeFiles{}, err
	}
	certPEM, keyPEM, _, err := ca.ServingCert("kube-apiserver")
	if err != nil {
		return kubeFiles{}, err
	}
	k.CAData = ca.PEM
	saKey, saPub, err := newSigningKey()
	if err != nil {
		return kubeFiles{}, err
	}
	var tokens strings.Builder
	w := csv.NewWriter(&tokens)
	for _, name := range k.order {
		u := k.users[name]
		// token,user,uid,"group1,group2": one line per token, both tokens naming the same user.
		for _, tok := range []string{u.token, u.openShiftToken} {
			if err := w.Write([]string{tok, u.Name, "uid-" + u.Name, strings.Join(u.Groups, ",")}); err != nil {
				return kubeFiles{}, err
			}
		}
	}
	w.Flush()

	f := kubeFiles{
		ca:     ca,
		caFile: filepath.Join(k.Dir, "ca.crt"),
		cert:   filepath.Join(k.Dir, "apiserver.crt"),
		key:    filepath.Join(k.Dir, "apiserver.key"),
		tokens: filepath.Join(k.Dir, "tokens.csv"),
		saKey:  filepath.Join(k.Dir, "sa.key"),
		saPub:  filepath.Join(k.Dir, "sa.pub"),
	}
	for path, data := range map[string][]byte{
		f.cert: certPEM, f.key: keyPEM, f.tokens: []byte(tokens.String()),
		f.saKey: saKey, f.saPub: saPub, f.caFile: ca.PEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return kubeFiles{}, err
		}
	}
	return f, nil
}

// Stop ends kube-controller-manager, kube-apiserver, then etcd (by their PIDs), and removes
// the working folder if StartKube made it. It is safe to call more than once.
func (k *Kube) Stop() error {
	var errs []error
	for _, p := range []*process{k.kcm, k.apiserver, k.etcd} {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	if k.removeDir && k.Dir != "" {
		errs = append(errs, os.RemoveAll(k.Dir))
		k.removeDir = false
	}
	return errors.Join(errs...)
}

// Users returns the user names, in the order they were given.
func (k *Kube) Users() []string { return slices.Clone(k.order) }

// AdminUser is the name of the first user in system:masters.
func (k *Kube) AdminUser() string { return k.adminUser }

// Groups returns the user's groups as the token file lists them (without system:authenticated).
func (k *Kube) Groups(user string) []string { return slices.Clone(k.identity(user).Groups) }

// Token returns the user's plain bearer token.
func (k *Kube) Token(user string) string { return k.identity(user).token }

// OpenShiftToken returns the user's "sha256~" bearer token, the one a fake OpenShift OAuth
// server hands out for this user.
func (k *Kube) OpenShiftToken(user string) string { return k.identity(user).openShiftToken }

// OpenShiftTokens maps every user to its "sha256~" token.
func (k *Kube) OpenShiftTokens() map[string]string {
	m := make(map[string]string, len(k.users))
	for name, u := range k.users {
		m[name] = u.openShiftToken
	}
	return m
}

// Config returns a rest.Config that authenticates as user and trusts the serving CA.
func (k *Kube) Config(user string) *rest.Config {
	return RESTConfig(k.URL, k.CAData, k.Token(user))
}

// Clientset returns a client-go clientset acting as user.
func (k *Kube) Clientset(user string) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(k.Config(user))
}

// WriteKubeconfig writes a kubeconfig file that acts as user (for percli, the server, kubectl).
func (k *Kube) WriteKubeconfig(path, user string) error {
	return WriteKubeconfig(path, k.URL, k.CAData, k.Token(user))
}

func (k *Kube) identity(user string) kubeIdentity {
	u, ok := k.users[user]
	if !ok {
		// A test naming a user it never registered is a bug in the test, not a runtime condition.
		panic(fmt.Sprintf("testenv: no user %q (have %s)", user, strings.Join(k.order, ", ")))
	}
	return u
}

// RESTConfig is a rest.Config for a bearer token against server, trusting caData.
func RESTConfig(server string, caData []byte, token string) *rest.Config {
	return &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caData},
		QPS:             -1, // no client-side throttling: tests measure the server, not client-go
	}
}

// NewOpenShiftToken returns a random token in the form of an OpenShift OAuth access token:
// "sha256~" and 43 base64url characters (32 random bytes).
func NewOpenShiftToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "sha256~" + base64.RawURLEncoding.EncodeToString(b)
}

func kubeToolsDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(EnvKubeToolsDir)
	}
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "build", "tools")
	}
	var missing []string
	for _, bin := range []string{"kube-apiserver", "kube-controller-manager", "etcd"} {
		if st, err := os.Stat(filepath.Join(dir, bin)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("testenv: %s missing in %s: run `make tools` (or `hack/kube/build.sh build/tools`; "+
			"a cold build takes ~10 min), or set %s to a folder that has them",
			strings.Join(missing, " and "), dir, EnvKubeToolsDir)
	}
	return dir, nil
}

// httpOK GETs url (with a bearer token when given) and wants 200.
func httpOK(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
