-- The content diff of a dry run's host (what the host would get), stored beside its host_pushes row (capped).
CREATE TABLE host_push_diffs (
  host_push_id INTEGER PRIMARY KEY REFERENCES host_pushes (id) ON DELETE CASCADE,
  diff TEXT NOT NULL
);
