-- Host-sync sources paused (or resumed) through the API, kept across restarts. A source without a row follows its
-- configuration (hostSync.sources.<name>.enabled).
CREATE TABLE host_sync_source_state (
  name       TEXT PRIMARY KEY,
  enabled    INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT
);
