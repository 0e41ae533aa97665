// Package postgres is the PostgreSQL store: upstream Perses' DAO interface on pgx/v5,
// with versioned migrations (golang-migrate's layout and table), a change record that
// creates, updates and deletes all bump, and LISTEN/NOTIFY so that several replicas
// sharing one database refresh their caches within a second of a write.
//
// Every call is bounded by a context timeout (connect timeout + statement timeout);
// while PostgreSQL cannot be reached, calls return an error wrapping ErrUnavailable.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/perses/perses/pkg/extend"
	modelAPI "github.com/perses/perses/pkg/model/api"
	v1 "github.com/perses/perses/pkg/model/api/v1"
)

var _ extend.DAO = (*DAO)(nil)

// Statements. Global kinds are stored with project = ”. The name prefix is matched
// with LIKE and an escaped pattern, so '_' and '%' in a prefix are literal.
const (
	sqlCreate = `INSERT INTO perses_resource (kind, project, name, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, project, name) DO NOTHING`
	sqlUpsert = `INSERT INTO perses_resource (kind, project, name, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, project, name) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()`
	sqlGet    = `SELECT doc FROM perses_resource WHERE kind = $1 AND project = $2 AND name = $3`
	sqlDelete = `DELETE FROM perses_resource WHERE kind = $1 AND project = $2 AND name = $3`
	// $2 = '' selects every project (and is the only project of a global kind);
	// $3 = '' selects every name.
	sqlList = `SELECT doc FROM perses_resource
		WHERE kind = $1 AND ($2 = '' OR project = $2) AND ($3 = '' OR name LIKE $3 ESCAPE '\')
		ORDER BY project, name`
	sqlListMetadata = `SELECT jsonb_build_object('kind', kind, 'metadata', doc->'metadata', 'spec', '{}'::jsonb)
		FROM perses_resource
		WHERE kind = $1 AND ($2 = '' OR project = $2) AND ($3 = '' OR name LIKE $3 ESCAPE '\')
		ORDER BY project, name`
	sqlDeleteByQuery = `DELETE FROM perses_resource
		WHERE kind = $1 AND ($2 = '' OR project = $2) AND ($3 = '' OR name LIKE $3 ESCAPE '\')`
	sqlLatestChange = `SELECT max(changed_at) FROM perses_change WHERE kind = ANY($1)`
)

// applicationName is how our connections show in pg_stat_activity, unless the URL names
// them.
const applicationName = "perses"

// UpdateTimeLayout is the format GetLatestUpdateTime answers in (UTC), the one upstream's
// caches parse.
const UpdateTimeLayout = "2006-01-02 15:04:05"

// DAO is upstream's store on PostgreSQL. It is safe for concurrent use.
type DAO struct {
	pool          *pgxpool.Pool
	cfg           config.Postgres
	opTimeout     time.Duration
	pingTimeout   time.Duration
	caseSensitive bool
	cache         *docCache
}

// Option changes how New builds the DAO.
type Option func(*DAO)

// CaseSensitive sets whether names and projects are compared as given (true) or
// lower-cased first, as upstream's database.case_sensitive does (default false, as
// upstream's).
func CaseSensitive(sensitive bool) Option { return func(d *DAO) { d.caseSensitive = sensitive } }

// New builds the DAO. It does not connect: the pool opens connections on first use, each
// bounded by cfg.ConnectTimeout, so New never waits on the network; Init migrates.
// Zero settings take the package defaults of config.
func New(_ context.Context, cfg config.Postgres, opts ...Option) (*DAO, error) {
	pc, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", cfg.URL.Redacted(), err)
	}
	connect, statement := timeouts(cfg)
	d := &DAO{
		pool:        pool,
		cfg:         cfg,
		opTimeout:   connect + statement,
		pingTimeout: connect,
		cache:       newDocCache(),
	}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

func timeouts(cfg config.Postgres) (connect, statement time.Duration) {
	connect, statement = time.Duration(cfg.ConnectTimeout), time.Duration(cfg.StatementTimeout)
	if connect <= 0 {
		connect = time.Duration(config.DefaultPostgresConnectTimeout)
	}
	if statement <= 0 {
		statement = time.Duration(config.DefaultPostgresStatementLimit)
	}
	return connect, statement
}

// connConfig parses the URL and applies the timeouts; the error never shows the password.
func connConfig(cfg config.Postgres) (*pgx.ConnConfig, error) {
	if cfg.URL == "" {
		// pgx would fall back to PG* variables and a local socket: say it instead.
		return nil, errors.New("postgres: no connection URL (openshift_ai.postgres.url or DATABASE_URL)")
	}
	cc, err := pgx.ParseConfig(string(cfg.URL))
	if err != nil {
		// pgx's parse errors quote the connection string: say only which URL, redacted.
		return nil, fmt.Errorf("postgres: %s is not a valid connection URL", cfg.URL.Redacted())
	}
	connect, statement := timeouts(cfg)
	cc.ConnectTimeout = connect
	cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(statement.Milliseconds(), 10)
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = applicationName
	}
	return cc, nil
}

func poolConfig(cfg config.Postgres) (*pgxpool.Config, error) {
	cc, err := connConfig(cfg)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pc.ConnConfig = cc
	pc.MaxConns = cfg.MaxConns
	if pc.MaxConns < 1 {
		pc.MaxConns = config.DefaultPostgresMaxConns
	}
	pc.PingTimeout = cc.ConnectTimeout
	return pc, nil
}

func (d *DAO) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.opTimeout)
}

// Init brings the schema to the version this binary knows, under an advisory lock so
// that replicas starting together migrate once. A dirty schema, or one newer than this
// binary, is an error that says what to do.
func (d *DAO) Init() error {
	ctx, cancel := context.WithTimeout(context.Background(), MigrationTimeout)
	defer cancel()
	return migrateSchema(ctx, d.cfg, "up")
}

// IsCaseSensitive says whether names are compared as given.
func (d *DAO) IsCaseSensitive() bool { return d.caseSensitive }

// Close closes the pool.
func (d *DAO) Close() error {
	d.pool.Close()
	return nil
}

// key is where an entity lives: its kind, project (” for global kinds) and name, after
// the case folding the store is configured for.
type key struct {
	kind, project, name string
}

// String is the key upstream's file store would use, for 404/409 errors.
func (k key) String() string {
	return path.Join(v1.PluralKindMap[v1.Kind(k.kind)], k.project, k.name)
}

func (d *DAO) keyOf(kind v1.Kind, metadata modelAPI.Metadata) (key, error) {
	if _, known := v1.PluralKindMap[kind]; !known {
		return key{}, fmt.Errorf("postgres: kind %q is not stored", kind)
	}
	// Flatten on the caller's metadata as upstream's stores do: the entity written then
	// carries the lower-cased name the store keys it by.
	metadata.Flatten(d.caseSensitive)
	switch m := metadata.(type) {
	case *v1.ProjectMetadata:
		return key{kind: string(kind), project: m.Project, name: m.Name}, nil
	case *v1.Metadata:
		return key{kind: string(kind), name: m.Name}, nil
	}
	return key{}, fmt.Errorf("postgres: metadata %T is not managed", metadata)
}

// Create stores a new entity; an existing one is a conflict. One statement: two
// concurrent creates of the same key cannot both succeed.
func (d *DAO) Create(entity modelAPI.Entity) error {
	k, doc, err := d.prepare(entity)
	if err != nil {
		return err
	}
	ctx, cancel := d.ctx()
	defer cancel()
	tag, err := d.pool.Exec(ctx, sqlCreate, k.kind, k.project, k.name, doc)
	d.cache.drop(k) // whatever the outcome: a timed-out statement may still have committed
	if err != nil {
		return storeErr("create", err)
	}
	if tag.RowsAffected() == 0 {
		return &extend.StoreError{Key: k.String(), Code: 409}
	}
	return nil
}

// Upsert stores an entity, replacing the one of the same key; created_at is kept.
func (d *DAO) Upsert(entity modelAPI.Entity) error {
	k, doc, err := d.prepare(entity)
	if err != nil {
		return err
	}
	defer d.cache.drop(k)
	return d.retry("upsert", func(ctx context.Context) error {
		_, err := d.pool.Exec(ctx, sqlUpsert, k.kind, k.project, k.name, doc)
		return err
	})
}

func (d *DAO) prepare(entity modelAPI.Entity) (key, []byte, error) {
	k, err := d.keyOf(v1.Kind(entity.GetKind()), entity.GetMetadata())
	if err != nil {
		return key{}, nil, err
	}
	doc, err := json.Marshal(entity)
	if err != nil {
		return key{}, nil, fmt.Errorf("postgres: encode %s: %w", k, err)
	}
	return k, doc, nil
}

// Get reads one entity into entity; a missing one is a 404 StoreError.
func (d *DAO) Get(kind v1.Kind, metadata modelAPI.Metadata, entity modelAPI.Entity) error {
	k, err := d.keyOf(kind, metadata)
	if err != nil {
		return err
	}
	doc, gen, cached := d.cache.get(k)
	if !cached {
		err = d.retry("get", func(ctx context.Context) error {
			return d.pool.QueryRow(ctx, sqlGet, k.kind, k.project, k.name).Scan(&doc)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return &extend.StoreError{Key: k.String(), Code: 404}
		}
		if err != nil {
			return err
		}
		d.cache.fill(k, doc, gen)
	}
	return json.Unmarshal(doc, entity)
}

// Delete removes one entity; a missing one is a 404 StoreError.
func (d *DAO) Delete(kind v1.Kind, metadata modelAPI.Metadata) error {
	k, err := d.keyOf(kind, metadata)
	if err != nil {
		return err
	}
	ctx, cancel := d.ctx()
	defer cancel()
	tag, err := d.pool.Exec(ctx, sqlDelete, k.kind, k.project, k.name)
	d.cache.drop(k)
	if err != nil {
		return storeErr("delete", err)
	}
	if tag.RowsAffected() == 0 {
		return &extend.StoreError{Key: k.String(), Code: 404}
	}
	return nil
}

// target turns an upstream query into the kind, project and LIKE pattern of sqlList.
func (d *DAO) target(q extend.Query) (kind, project, pattern string, err error) {
	k, project, prefix, err := extend.QueryTarget(q)
	if err != nil {
		return "", "", "", fmt.Errorf("postgres: %w", err)
	}
	if !d.caseSensitive {
		project, prefix = strings.ToLower(project), strings.ToLower(prefix)
	}
	if prefix != "" {
		pattern = likeEscaper.Replace(prefix) + "%"
	}
	return string(k), project, pattern, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// RawQuery lists the documents a query selects, ordered by project and name; never nil.
func (d *DAO) RawQuery(q extend.Query) ([]json.RawMessage, error) {
	return d.list("list", sqlList, q)
}

// RawMetadataQuery lists what RawQuery lists with an empty spec: {kind, metadata, spec:{}}.
// (Upstream's wrapper builds this itself from RawQuery when it wraps this DAO; this
// method builds it in the database so that a direct caller does not move the specs.)
func (d *DAO) RawMetadataQuery(q extend.Query, _ v1.Kind) ([]json.RawMessage, error) {
	return d.list("list metadata", sqlListMetadata, q)
}

func (d *DAO) list(op, statement string, q extend.Query) ([]json.RawMessage, error) {
	kind, project, pattern, err := d.target(q)
	if err != nil {
		return nil, err
	}
	lk := listKey{kind: kind, project: project, pattern: pattern}
	cacheable := statement == sqlList
	if cacheable {
		if docs, _, ok := d.cache.getList(lk); ok {
			return slices.Clone(docs), nil
		}
	}
	gen := d.cache.generation() // before reading: a drop meanwhile forbids the fill
	result := make([]json.RawMessage, 0)
	err = d.retry(op, func(ctx context.Context) error {
		result = result[:0]
		rows, err := d.pool.Query(ctx, statement, kind, project, pattern)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			result = append(result, doc)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if cacheable {
		d.cache.fillList(lk, slices.Clone(result), gen)
	}
	return result, nil
}

// Query decodes the documents a query selects into slice, a pointer to a slice of
// entities or of pointers to entities, as upstream's stores do. An empty result is an
// empty, non-nil slice.
func (d *DAO) Query(q extend.Query, slice any) error {
	ptr := reflect.ValueOf(slice)
	if ptr.Kind() != reflect.Pointer || ptr.IsNil() {
		return fmt.Errorf("postgres: query result must be a non-nil pointer to a slice, not %T", slice)
	}
	sliceType := ptr.Type().Elem()
	if sliceType.Kind() != reflect.Slice {
		return fmt.Errorf("postgres: query result must point to a slice, not to %s", sliceType.Kind())
	}
	docs, err := d.list("list", sqlList, q)
	if err != nil {
		return err
	}
	elemType := sliceType.Elem()
	byPointer := elemType.Kind() == reflect.Pointer
	if byPointer {
		elemType = elemType.Elem()
	}
	out := reflect.MakeSlice(sliceType, 0, len(docs))
	for _, doc := range docs {
		v := reflect.New(elemType)
		if err := json.Unmarshal(doc, v.Interface()); err != nil {
			return fmt.Errorf("postgres: decode %s: %w", elemType, err)
		}
		if !byPointer {
			v = v.Elem()
		}
		out = reflect.Append(out, v)
	}
	ptr.Elem().Set(out)
	return nil
}

// DeleteByQuery removes everything a query selects (nothing selected is no error).
func (d *DAO) DeleteByQuery(q extend.Query) error {
	kind, project, pattern, err := d.target(q)
	if err != nil {
		return err
	}
	ctx, cancel := d.ctx()
	defer cancel()
	_, err = d.pool.Exec(ctx, sqlDeleteByQuery, kind, project, pattern)
	d.cache.dropKind(kind)
	if err != nil {
		return storeErr("delete by query", err)
	}
	return nil
}

// HealthCheck pings PostgreSQL within the connect timeout.
func (d *DAO) HealthCheck() bool {
	return d.Ping(context.Background()) == nil
}

// Ping checks that PostgreSQL answers, within the connect timeout.
func (d *DAO) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.pingTimeout)
	defer cancel()
	return storeErr("ping", d.pool.Ping(ctx))
}

// GetLatestUpdateTime answers when any of the kinds last changed (created, updated or
// deleted), as "2006-01-02 15:04:05" UTC, or nil if none ever did.
func (d *DAO) GetLatestUpdateTime(kinds []v1.Kind) (*string, error) {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, string(k))
	}
	var latest *time.Time
	err := d.retry("latest update time", func(ctx context.Context) error {
		return d.pool.QueryRow(ctx, sqlLatestChange, names).Scan(&latest)
	})
	if err != nil || latest == nil {
		return nil, err
	}
	s := latest.UTC().Format(UpdateTimeLayout)
	return &s, nil
}

// retry runs an idempotent statement, once more if the first attempt lost an established
// connection (e.g. a pooled connection PostgreSQL closed on restart). Both attempts share
// one deadline.
func (d *DAO) retry(op string, f func(ctx context.Context) error) error {
	ctx, cancel := d.ctx()
	defer cancel()
	err := f(ctx)
	var connectErr *pgconn.ConnectError
	if err != nil && ctx.Err() == nil && !errors.As(err, &connectErr) && !pgconn.Timeout(err) && connectionLost(err) {
		// Not after a failed connect or a timeout: the second attempt would fail the
		// same way, and double the wait.
		err = f(ctx)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return storeErr(op, err)
}
