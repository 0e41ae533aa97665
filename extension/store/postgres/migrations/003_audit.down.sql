DROP TABLE IF EXISTS perses_audit;
