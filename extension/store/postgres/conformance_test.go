package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/config"
	"github.com/perses/perses/pkg/extend"
	upstreamConfig "github.com/perses/perses/pkg/model/api/config"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	v1Common "github.com/perses/perses/pkg/model/api/v1/common"
	"github.com/perses/spec/go/common"
	dashboardSpec "github.com/perses/spec/go/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The three stores every conformance case runs on.
const (
	storeFile     = "file"     // upstream's file store
	storeMySQL    = "mysql"    // upstream's SQL store, on MariaDB
	storePostgres = "postgres" // ours
)

var storeOrder = []string{storeFile, storeMySQL, storePostgres}

// newStores builds the three stores, each empty and initialised, with the same case
// sensitivity.
func newStores(t *testing.T, caseSensitive bool) map[string]extend.DAO {
	t.Helper()
	// The file store lower-cases the folder it lists when case-insensitive: it must be
	// lower-case already.
	folder, err := os.MkdirTemp(os.TempDir(), "perses-file-store-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(folder) })
	require.Equal(t, strings.ToLower(folder), folder, "the temporary folder must be lower-case: set TMPDIR")

	file, err := extend.NewUpstreamDAO(upstreamConfig.Database{File: &upstreamConfig.File{
		Folder: folder, Extension: upstreamConfig.JSONExtension, CaseSensitive: caseSensitive,
	}})
	require.NoError(t, err)
	mysql, err := extend.NewUpstreamDAO(upstreamConfig.Database{SQL: newMySQLDatabase(t, caseSensitive)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mysql.Close() })
	pg, _ := newDAO(t, CaseSensitive(caseSensitive))

	stores := map[string]extend.DAO{storeFile: file, storeMySQL: mysql, storePostgres: pg}
	for name, s := range stores {
		require.NoError(t, s.Init(), name)
		require.Equal(t, caseSensitive, s.IsCaseSensitive(), name)
	}
	return stores
}

// conformanceCase is one behaviour, observed on each store. Every store must answer
// want, except those listed in upstreamDisagree: where upstream's two stores disagree,
// the comment of the case says which one ours follows and why.
type conformanceCase struct {
	name             string
	caseSensitive    bool
	run              func(t *testing.T, d extend.DAO) any
	want             any
	upstreamDisagree map[string]any
}

func TestConformance(t *testing.T) {
	cases := []conformanceCase{
		{
			name: "create and get a global kind",
			run: func(t *testing.T, d extend.DAO) any {
				created := outcome(d.Create(project("proj-a", "Project A")))
				got := &v1.Project{}
				err := d.Get(v1.KindProject, v1.NewMetadata("proj-a"), got)
				return []string{created, outcome(err), got.Metadata.Name, got.Spec.Display.Name}
			},
			want: []string{"ok", "ok", "proj-a", "Project A"},
		},
		{
			name: "create and get a project kind",
			run: func(t *testing.T, d extend.DAO) any {
				created := outcome(d.Create(dashboard("p1", "dash", "1h")))
				got := &v1.Dashboard{}
				err := d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "dash"), got)
				return []string{created, outcome(err), got.Metadata.Project, got.Metadata.Name, string(got.Spec.Duration)}
			},
			want: []string{"ok", "ok", "p1", "dash", "1h"},
		},
		{
			name: "create twice is a conflict",
			run: func(t *testing.T, d extend.DAO) any {
				return []string{outcome(d.Create(dashboard("p1", "dash", "1h"))), outcome(d.Create(dashboard("p1", "dash", "2h"))),
					outcome(d.Create(project("proj-a", ""))), outcome(d.Create(project("proj-a", "")))}
			},
			want: []string{"ok", "409", "ok", "409"},
		},
		{
			name: "get missing is not found",
			run: func(t *testing.T, d extend.DAO) any {
				return []string{
					outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "nothing"), &v1.Dashboard{})),
					outcome(d.Get(v1.KindProject, v1.NewMetadata("nothing"), &v1.Project{})),
				}
			},
			want: []string{"404", "404"},
		},
		{
			name: "upsert creates then replaces",
			run: func(t *testing.T, d extend.DAO) any {
				first := outcome(d.Upsert(dashboard("p1", "dash", "1h")))
				afterFirst := durationOf(t, d, "p1", "dash")
				second := outcome(d.Upsert(dashboard("p1", "dash", "2h")))
				afterSecond := durationOf(t, d, "p1", "dash")
				return []string{first, afterFirst, second, afterSecond, strings.Join(list(t, d, "", ""), ",")}
			},
			want: []string{"ok", "1h", "ok", "2h", "p1/dash"},
		},
		{
			name: "list by project",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a", "p1/b", "p2/c")
				return list(t, d, "p1", "")
			},
			want: []string{"p1/a", "p1/b"},
		},
		{
			name: "list across projects",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a", "p1/b", "p2/c")
				return list(t, d, "", "")
			},
			want: []string{"p1/a", "p1/b", "p2/c"},
		},
		{
			// Names may hold '_' (not '%': upstream refuses it in names), and a prefix is
			// literal on every store: upstream's SQL store escapes LIKE's wildcards, as ours.
			name: "list by name prefix",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a_b", "p1/axb", "p1/abc", "p1/b", "p2/a_z")
				return map[string][]string{
					"a_":             list(t, d, "p1", "a_"),
					"a%":             list(t, d, "p1", "a%"),
					"a":              list(t, d, "p1", "a"),
					"ax":             list(t, d, "p1", "ax"),
					"a_ (all)":       list(t, d, "", "a_"),
					"zzz":            list(t, d, "p1", "zzz"),
					`a\ (backslash)`: list(t, d, "p1", `a\`),
				}
			},
			want: map[string][]string{
				"a_":             {"p1/a_b"},
				"a%":             {},
				"a":              {"p1/a_b", "p1/abc", "p1/axb"},
				"ax":             {"p1/axb"},
				"a_ (all)":       {"p1/a_b", "p2/a_z"},
				"zzz":            {},
				`a\ (backslash)`: {},
			},
		},
		{
			name: "list nothing is an empty slice, never nil",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a")
				var ptrs []*v1.Dashboard
				var values []v1.Dashboard
				errPtrs := d.Query(mustQuery(t, v1.KindDashboard, "p9", ""), &ptrs)
				errValues := d.Query(mustQuery(t, v1.KindDashboard, "p1", "zzz"), &values)
				raw, errRaw := d.RawQuery(mustQuery(t, v1.KindDashboard, "p9", ""))
				var projects []*v1.Project
				errProjects := d.Query(mustQuery(t, v1.KindProject, "", ""), &projects)
				return []string{
					fmt.Sprintf("%s nil=%t len=%d", outcome(errPtrs), ptrs == nil, len(ptrs)),
					fmt.Sprintf("%s nil=%t len=%d", outcome(errValues), values == nil, len(values)),
					fmt.Sprintf("%s nil=%t len=%d", outcome(errRaw), raw == nil, len(raw)),
					fmt.Sprintf("%s nil=%t len=%d", outcome(errProjects), projects == nil, len(projects)),
				}
			},
			want: []string{"ok nil=false len=0", "ok nil=false len=0", "ok nil=false len=0", "ok nil=false len=0"},
		},
		{
			name: "query into values and into pointers",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a", "p1/b")
				var values []v1.Dashboard
				var ptrs []*v1.Dashboard
				require.NoError(t, d.Query(mustQuery(t, v1.KindDashboard, "p1", ""), &values))
				require.NoError(t, d.Query(mustQuery(t, v1.KindDashboard, "p1", ""), &ptrs))
				var names []string
				for _, v := range values {
					names = append(names, "value:"+v.Metadata.Name+":"+string(v.Spec.Duration))
				}
				for _, p := range ptrs {
					names = append(names, "pointer:"+p.Metadata.Name+":"+string(p.Spec.Duration))
				}
				sort.Strings(names)
				return names
			},
			want: []string{"pointer:a:1h", "pointer:b:1h", "value:a:1h", "value:b:1h"},
		},
		{
			// Documents are compared decoded: ours stores JSONB, which keeps the content
			// but not the key order or spacing of the text it was given.
			name: "raw query",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a", "p2/b")
				raw, err := d.RawQuery(mustQuery(t, v1.KindDashboard, "", ""))
				require.NoError(t, err)
				return decodeAll(t, raw)
			},
			want: []string{"Dashboard p1/a duration=1h", "Dashboard p2/b duration=1h"},
		},
		{
			// Upstream's wrapper answers this from RawQuery for its own stores; ours
			// answers it itself (the wrapper does the same to ours when it wraps it).
			name: "raw metadata query",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a")
				raw, err := d.RawMetadataQuery(mustQuery(t, v1.KindDashboard, "p1", ""), v1.KindDashboard)
				require.NoError(t, err)
				return decodeAll(t, raw)
			},
			want: []string{"Dashboard p1/a duration="},
		},
		{
			name: "delete, then get is not found",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a")
				require.NoError(t, d.Create(project("proj-a", "")))
				return []string{
					outcome(d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "a"))),
					outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "a"), &v1.Dashboard{})),
					outcome(d.Delete(v1.KindProject, v1.NewMetadata("proj-a"))),
					outcome(d.Get(v1.KindProject, v1.NewMetadata("proj-a"), &v1.Project{})),
				}
			},
			want: []string{"ok", "404", "ok", "404"},
		},
		{
			name: "delete missing is not found",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a")
				return []string{
					outcome(d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "b"))),
					outcome(d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p2", "a"))),
					outcome(d.Delete(v1.KindProject, v1.NewMetadata("nothing"))),
				}
			},
			want: []string{"404", "404", "404"},
		},
		{
			name: "delete by query",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a", "p1/b", "p2/a", "p2/b", "p3/ab", "p3/b")
				return []string{
					outcome(d.DeleteByQuery(mustQuery(t, v1.KindDashboard, "p1", ""))),
					strings.Join(list(t, d, "", ""), ","),
					outcome(d.DeleteByQuery(mustQuery(t, v1.KindDashboard, "p3", "a"))),
					strings.Join(list(t, d, "", ""), ","),
					outcome(d.DeleteByQuery(mustQuery(t, v1.KindDashboard, "p9", ""))),
					outcome(d.DeleteByQuery(mustQuery(t, v1.KindDashboard, "", ""))),
					strings.Join(list(t, d, "", ""), ","),
				}
			},
			want: []string{"ok", "p2/a,p2/b,p3/ab,p3/b", "ok", "p2/a,p2/b,p3/b", "ok", "ok", ""},
		},
		{
			// Names and projects are lower-cased on write and on read: the entity the
			// caller wrote carries the name it is stored under.
			name: "case-insensitive names",
			run: func(t *testing.T, d extend.DAO) any {
				entity := dashboard("MyProj", "MyDash", "1h")
				created := outcome(d.Create(entity))
				got := &v1.Dashboard{}
				getLower := outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("myproj", "mydash"), got))
				getMixed := outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("MYPROJ", "MyDash"), &v1.Dashboard{}))
				return []string{
					created, entity.Metadata.Project + "/" + entity.Metadata.Name,
					getLower, got.Metadata.Project + "/" + got.Metadata.Name, getMixed,
					outcome(d.Create(dashboard("myproj", "MYDASH", "1h"))),
					strings.Join(list(t, d, "MyProj", "MY"), ","),
					outcome(d.Create(project("MyProject", ""))),
					outcome(d.Get(v1.KindProject, v1.NewMetadata("myproject"), &v1.Project{})),
				}
			},
			want: []string{"ok", "myproj/mydash", "ok", "myproj/mydash", "ok", "409", "myproj/mydash", "ok", "ok"},
		},
		{
			// Delete of a mixed-case name, case-insensitive. Upstream's file store does not
			// lower-case on delete (its path keeps the capitals: 404); its SQL store finds
			// the row because MariaDB's default collation ignores case. Ours follows the
			// SQL store: it lower-cases like Create and Get do, so Delete agrees with Get.
			// Upstream's API lower-cases the path before calling, so clients see no
			// difference.
			name: "case-insensitive delete of a mixed-case name",
			run: func(t *testing.T, d extend.DAO) any {
				require.NoError(t, d.Create(dashboard("p1", "MyDash", "1h")))
				return []string{
					outcome(d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "MyDash"))),
					strings.Join(list(t, d, "p1", ""), ","),
				}
			},
			want:             []string{"ok", ""},
			upstreamDisagree: map[string]any{storeFile: []string{"404", "p1/mydash"}},
		},
		{
			// Case-sensitive names. Upstream's SQL store keys rows by "project|name" in a
			// MariaDB table whose default collation (utf8mb4_general_ci) ignores case, so
			// "MyDash" and "mydash" collide and a get or prefix finds the other case. Its
			// file store (on a case-sensitive file system) keeps them apart. Ours follows
			// the file store: case_sensitive: true promises exactly that, and the "C"
			// collation of our key columns keeps it.
			name:          "case-sensitive names",
			caseSensitive: true,
			run: func(t *testing.T, d extend.DAO) any {
				return []string{
					outcome(d.Create(dashboard("p1", "MyDash", "1h"))),
					outcome(d.Create(dashboard("p1", "mydash", "2h"))),
					outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "MYDASH"), &v1.Dashboard{})),
					outcome(d.Get(v1.KindDashboard, v1.NewProjectMetadata("P1", "MyDash"), &v1.Dashboard{})),
					strings.Join(list(t, d, "p1", "My"), ","),
				}
			},
			want: []string{"ok", "ok", "404", "404", "p1/MyDash"},
			upstreamDisagree: map[string]any{
				storeMySQL: []string{"ok", "409", "ok", "ok", "p1/MyDash"},
			},
		},
		{
			// Upstream's file store keeps no change record: it always answers nil (its
			// caches then refresh once). Its SQL store reads MariaDB's
			// information_schema.tables.UPDATE_TIME, which InnoDB keeps in memory only.
			// Ours answers from its change record, which deletes bump too; ours follows the
			// SQL store's contract (the last write, in the format upstream parses, UTC).
			name: "latest update time follows creates, updates and deletes",
			run: func(t *testing.T, d extend.DAO) any {
				kinds := []v1.Kind{v1.KindDashboard, v1.KindRole}
				before, err := d.GetLatestUpdateTime([]v1.Kind{v1.KindGlobalVariable})
				require.NoError(t, err)
				steps := []string{"untouched kind: " + describeTime(t, before, nil)}
				var previous *string
				for _, step := range []struct {
					name  string
					write func() error
				}{
					{"create", func() error { return d.Create(dashboard("p1", "a", "1h")) }},
					{"update", func() error { return d.Upsert(dashboard("p1", "a", "2h")) }},
					{"delete", func() error { return d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "a")) }},
				} {
					if previous != nil {
						time.Sleep(1100 * time.Millisecond) // the format has whole seconds
					}
					require.NoError(t, step.write())
					latest, err := d.GetLatestUpdateTime(kinds)
					require.NoError(t, err)
					steps = append(steps, step.name+": "+describeTime(t, latest, previous))
					previous = latest
				}
				return steps
			},
			want: []string{"untouched kind: nil", "create: now", "update: later", "delete: later"},
			upstreamDisagree: map[string]any{
				storeFile: []string{"untouched kind: nil", "create: nil", "update: nil", "delete: nil"},
			},
		},
		{
			name: "init is idempotent and keeps the data",
			run: func(t *testing.T, d extend.DAO) any {
				seed(t, d, "p1/a")
				return []string{outcome(d.Init()), outcome(d.Init()), strings.Join(list(t, d, "", ""), ",")}
			},
			want: []string{"ok", "ok", "p1/a"},
		},
	}

	for _, caseSensitive := range []bool{false, true} {
		t.Run(fmt.Sprintf("case_sensitive=%t", caseSensitive), func(t *testing.T) {
			stores := newStores(t, caseSensitive)
			for _, c := range cases {
				if c.caseSensitive != caseSensitive {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					for _, name := range storeOrder {
						t.Run(name, func(t *testing.T) {
							d := stores[name]
							reset(t, d)
							want := c.want
							if w, ok := c.upstreamDisagree[name]; ok {
								want = w
							}
							assert.Equal(t, want, c.run(t, d))
						})
					}
				})
			}
		})
	}
}

// reset empties the kinds the cases write, through the DAO itself.
func reset(t *testing.T, d extend.DAO) {
	t.Helper()
	for _, kind := range []v1.Kind{v1.KindDashboard, v1.KindProject} {
		require.NoError(t, d.DeleteByQuery(mustQuery(t, kind, "", "")))
	}
}

func dashboard(projectName, name, duration string) *v1.Dashboard {
	return &v1.Dashboard{
		Kind:     v1.KindDashboard,
		Metadata: *v1.NewProjectMetadata(projectName, name),
		Spec: dashboardSpec.Spec{
			Display:  &common.Display{Name: name},
			Duration: common.DurationString(duration),
			Panels:   map[string]*dashboardSpec.Panel{},
			Layouts:  []dashboardSpec.Layout{},
		},
	}
}

func project(name, display string) *v1.Project {
	return &v1.Project{Kind: v1.KindProject, Metadata: *v1.NewMetadata(name), Spec: v1.ProjectSpec{Display: &v1Common.Display{Name: display}}}
}

// seed creates dashboards given as "project/name".
func seed(t *testing.T, d extend.DAO, keys ...string) {
	t.Helper()
	for _, k := range keys {
		projectName, name, _ := strings.Cut(k, "/")
		require.NoError(t, d.Create(dashboard(projectName, name, "1h")), k)
	}
}

func mustQuery(t *testing.T, kind v1.Kind, projectName, prefix string) extend.Query {
	t.Helper()
	q, err := extend.NewQuery(kind, projectName, prefix)
	require.NoError(t, err)
	return q
}

// list answers the dashboards a query selects as sorted "project/name" (stores order
// lists differently: ours by project and name, the file store by path, MariaDB by key).
func list(t *testing.T, d extend.DAO, projectName, prefix string) []string {
	t.Helper()
	var found []*v1.Dashboard
	require.NoError(t, d.Query(mustQuery(t, v1.KindDashboard, projectName, prefix), &found))
	keys := make([]string, 0, len(found))
	for _, f := range found {
		keys = append(keys, f.Metadata.Project+"/"+f.Metadata.Name)
	}
	sort.Strings(keys)
	return keys
}

func durationOf(t *testing.T, d extend.DAO, projectName, name string) string {
	t.Helper()
	got := &v1.Dashboard{}
	if err := d.Get(v1.KindDashboard, v1.NewProjectMetadata(projectName, name), got); err != nil {
		return outcome(err)
	}
	return string(got.Spec.Duration)
}

func decodeAll(t *testing.T, raw []json.RawMessage) []string {
	t.Helper()
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		var doc struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name    string `json:"name"`
				Project string `json:"project"`
			} `json:"metadata"`
			Spec struct {
				Duration string `json:"duration"`
			} `json:"spec"`
		}
		require.NoError(t, json.Unmarshal(r, &doc), string(r))
		out = append(out, fmt.Sprintf("%s %s/%s duration=%s", doc.Kind, doc.Metadata.Project, doc.Metadata.Name, doc.Spec.Duration))
	}
	sort.Strings(out)
	return out
}

// outcome names an answer the way the cases compare them.
func outcome(err error) string {
	var storeErr *extend.StoreError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &storeErr):
		return fmt.Sprint(storeErr.Code)
	default:
		return "error: " + err.Error()
	}
}

// describeTime says what a GetLatestUpdateTime answer is: nil, "now" (within a minute of
// the clock, UTC), or "later"/"same"/"earlier" than the previous answer.
func describeTime(t *testing.T, got, previous *string) string {
	t.Helper()
	if got == nil {
		return "nil"
	}
	at, err := time.Parse(UpdateTimeLayout, *got)
	require.NoError(t, err, "GetLatestUpdateTime answered %q, not %q", *got, UpdateTimeLayout)
	if previous == nil {
		if d := time.Since(at); d < -time.Minute || d > time.Minute {
			return fmt.Sprintf("%s is not now in UTC", *got)
		}
		return "now"
	}
	before, err := time.Parse(UpdateTimeLayout, *previous)
	require.NoError(t, err)
	switch {
	case at.After(before):
		return "later"
	case at.Equal(before):
		return "same"
	}
	return "earlier"
}

// TestLatestUpdateTimeAcrossInstances checks that the change record is shared: a write
// through one pool moves what another pool answers.
func TestLatestUpdateTimeAcrossInstances(t *testing.T) {
	a, url := newDAO(t)
	b, err := New(context.Background(), testConfig(url))
	require.NoError(t, err)
	defer b.Close() //nolint:errcheck
	none, err := b.GetLatestUpdateTime([]v1.Kind{v1.KindDashboard})
	require.NoError(t, err)
	assert.Nil(t, none)
	require.NoError(t, a.Create(dashboard("p1", "a", "1h")))
	got, err := b.GetLatestUpdateTime([]v1.Kind{v1.KindDashboard})
	require.NoError(t, err)
	require.NotNil(t, got)
}

// TestUserKind: upstream's SQL store keeps users in a table named `user`, a reserved
// word in PostgreSQL; ours stores every kind in one table and has no such name.
func TestUserKind(t *testing.T) {
	d, _ := newDAO(t)
	u := &v1.User{Kind: v1.KindUser, Metadata: *v1.NewMetadata("alice"), Spec: v1.UserSpec{FirstName: "Alice"}}
	require.NoError(t, d.Create(u))
	got := &v1.User{}
	require.NoError(t, d.Get(v1.KindUser, v1.NewMetadata("alice"), got))
	assert.Equal(t, "Alice", got.Spec.FirstName)
	var users []*v1.User
	require.NoError(t, d.Query(mustQuery(t, v1.KindUser, "", ""), &users))
	assert.Len(t, users, 1)
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, url := range []string{"", "postgresql://perses:hunter2@host:notaport/db"} {
		_, err := New(context.Background(), config.Postgres{URL: config.Secret(url)})
		require.Error(t, err, url)
		assert.NotContains(t, err.Error(), "hunter2")
	}
}
