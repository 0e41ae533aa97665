-- Initial schema of the PostgreSQL store (see ../README.md, "Schema").
-- One table holds every kind; global kinds have project = ''. Names and projects use the
-- "C" collation: byte-wise comparison, which makes equality exactly case-sensitive (the
-- DAO lower-cases them beforehand when the store is configured case-insensitive) and lets
-- the primary key's btree serve `name LIKE 'prefix%'`.
CREATE TABLE perses_resource (
    kind       text                  NOT NULL,
    project    text COLLATE "C"      NOT NULL DEFAULT '',
    name       text COLLATE "C"      NOT NULL,
    doc        jsonb                 NOT NULL,
    created_at timestamptz           NOT NULL DEFAULT now(),
    updated_at timestamptz           NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, project, name)
);

-- The change record: when a kind last changed. Deletes bump it too, which upstream's
-- MySQL store (information_schema UPDATE_TIME) cannot promise, so GetLatestUpdateTime
-- sees every write. One row per kind keeps the poll a primary-key lookup.
CREATE TABLE perses_change (
    kind       text        PRIMARY KEY,
    changed_at timestamptz NOT NULL
);

-- Every row written or deleted, whoever writes it (this server, another replica, an
-- operator with psql), bumps the change record and notifies listeners on
-- 'perses_changes' with the kind as payload. Notifications are sent at commit and
-- PostgreSQL folds identical ones within a transaction, so a delete of a whole project
-- sends one per kind.
CREATE FUNCTION perses_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed_kind text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_kind := OLD.kind;
    ELSE
        changed_kind := NEW.kind;
    END IF;
    INSERT INTO perses_change (kind, changed_at) VALUES (changed_kind, clock_timestamp())
    ON CONFLICT (kind) DO UPDATE
        SET changed_at = GREATEST(perses_change.changed_at, EXCLUDED.changed_at);
    PERFORM pg_notify('perses_changes', changed_kind);
    RETURN NULL;
END;
$$;

CREATE TRIGGER perses_resource_changed
    AFTER INSERT OR UPDATE OR DELETE ON perses_resource
    FOR EACH ROW EXECUTE FUNCTION perses_record_change();
