-- PostgreSQL sibling of 080_host_push_diffs.sql (same tables, columns and indexes; see README "PostgreSQL").
-- The content diff of a dry run's host (what the host would get), stored beside its host_pushes row (capped).
CREATE TABLE host_push_diffs (
  host_push_id BIGINT PRIMARY KEY REFERENCES host_pushes (id) ON DELETE CASCADE,
  diff         TEXT NOT NULL
);
