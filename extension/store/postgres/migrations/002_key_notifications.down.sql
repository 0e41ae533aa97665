CREATE OR REPLACE FUNCTION perses_record_change() RETURNS trigger
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
