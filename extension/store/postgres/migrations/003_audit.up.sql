-- Audit records (extension/audit): append-only, one row per mutation, denial, login or
-- logout. Read newest first by the admin API, which pages on (at, id).
CREATE TABLE perses_audit (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL,
    username   text        NOT NULL DEFAULT '',
    groups     text[]      NOT NULL DEFAULT '{}',
    source     text        NOT NULL DEFAULT '',
    request_id text        NOT NULL DEFAULT '',
    action     text        NOT NULL,
    kind       text        NOT NULL DEFAULT '',
    project    text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    status     integer     NOT NULL
);

CREATE INDEX perses_audit_at ON perses_audit (at DESC, id DESC);
CREATE INDEX perses_audit_project_at ON perses_audit (project, at DESC);
CREATE INDEX perses_audit_username_at ON perses_audit (username, at DESC);
