-- Notify the key of every row written or deleted, besides the kind: replicas keep a
-- cache of single documents and drop exactly the entries other replicas change.
-- 'perses_changes' keeps its payload (the kind) for replicas of the previous version.
-- The key payload is kind, project and name separated by the unit separator (0x1f),
-- which no name can contain.
CREATE OR REPLACE FUNCTION perses_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed perses_resource%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    INSERT INTO perses_change (kind, changed_at) VALUES (changed.kind, clock_timestamp())
    ON CONFLICT (kind) DO UPDATE
        SET changed_at = GREATEST(perses_change.changed_at, EXCLUDED.changed_at);
    PERFORM pg_notify('perses_changes', changed.kind);
    PERFORM pg_notify('perses_keys', changed.kind || chr(31) || changed.project || chr(31) || changed.name);
    RETURN NULL;
END;
$$;
