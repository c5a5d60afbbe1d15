-- PostgreSQL sibling of 046_unit_failures.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Units failing push after push: since when, how many runs in a row, why last, and whether anyone was told.
CREATE TABLE unit_failures (
  unit TEXT PRIMARY KEY,
  since TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_deployment_id BIGINT NOT NULL,
  last_reason TEXT
);
