package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres keeps records in the perses_audit table the store's migration 003 creates.
type Postgres struct{ pool *pgxpool.Pool }

var (
	_ Writer = (*Postgres)(nil)
	_ Reader = (*Postgres)(nil)
)

// NewPostgres opens a small pool of its own on url (the store's database), with the
// store's timeouts.
func NewPostgres(url string, connectTimeout, statementTimeout time.Duration) (*Postgres, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("audit: the PostgreSQL URL cannot be read") // the error would print the URL
	}
	pc.MaxConns = 2
	pc.ConnConfig.ConnectTimeout = connectTimeout
	pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(statementTimeout.Milliseconds(), 10)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

// Write inserts r.
func (p *Postgres) Write(ctx context.Context, r Record) error {
	if r.Groups == nil {
		r.Groups = []string{} // the column is NOT NULL
	}
	_, err := p.pool.Exec(ctx, `INSERT INTO perses_audit
		(at, username, groups, source, request_id, action, kind, project, name, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.Time, r.User, r.Groups, r.Source, r.RequestID, r.Action, r.Kind, r.Project, r.Name, r.Status)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

type rowCursor struct {
	At time.Time `json:"t"`
	ID int64     `json:"i"`
}

// Read returns the newest records matching q, paging on (at, id).
func (p *Postgres) Read(ctx context.Context, q Query) (Page, error) {
	var cur *rowCursor
	if q.Continue != "" {
		cur = &rowCursor{}
		if err := decodeToken(q.Continue, cur); err != nil || cur.ID <= 0 {
			return Page{}, fmt.Errorf("%w: continue token", ErrBadQuery)
		}
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	var curAt *time.Time
	var curID *int64
	if cur != nil {
		curAt, curID = &cur.At, &cur.ID
	}
	rows, err := p.pool.Query(ctx, `SELECT id, at, username, groups, source, request_id, action, kind, project, name, status
		FROM perses_audit
		WHERE ($1 = '' OR project = $1)
		  AND ($2 = '' OR username = $2)
		  AND ($3 = '' OR action = $3 OR split_part(action, ' ', 1) = $3)
		  AND ($4::timestamptz IS NULL OR at >= $4)
		  AND ($5::timestamptz IS NULL OR at < $5)
		  AND ($6::timestamptz IS NULL OR (at, id) < ($6, $7::bigint))
		ORDER BY at DESC, id DESC
		LIMIT $8`,
		q.Project, q.User, q.Action, opt(q.Since), opt(q.Until), curAt, curID, q.Limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	type stored struct {
		id int64
		r  Record
	}
	list, err := pgx.CollectRows(rows, func(cr pgx.CollectableRow) (stored, error) {
		var x stored
		err := cr.Scan(&x.id, &x.r.Time, &x.r.User, &x.r.Groups, &x.r.Source, &x.r.RequestID, &x.r.Action, &x.r.Kind, &x.r.Project, &x.r.Name, &x.r.Status)
		x.r.Time = x.r.Time.UTC()
		return x, err
	})
	if err != nil {
		return Page{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	page := Page{Items: make([]Record, 0, len(list))}
	more := len(list) > q.Limit
	if more {
		list = list[:q.Limit]
	}
	for _, x := range list {
		page.Items = append(page.Items, x.r)
	}
	if more {
		last := list[len(list)-1]
		page.Continue = encodeToken(rowCursor{At: last.r.Time, ID: last.id})
	}
	return page, nil
}
