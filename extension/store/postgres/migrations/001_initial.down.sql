DROP TRIGGER IF EXISTS perses_resource_changed ON perses_resource;
DROP FUNCTION IF EXISTS perses_record_change();
DROP TABLE IF EXISTS perses_change;
DROP TABLE IF EXISTS perses_resource;
