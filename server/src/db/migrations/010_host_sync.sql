-- Host sync: one row per run of a source (counts planned and applied, why it refused or failed), change-feed cursors,
-- and upstream CMDB sync runs.
CREATE TABLE host_sync_runs (
  id             INTEGER PRIMARY KEY,
  source         TEXT NOT NULL,
  source_type    TEXT NOT NULL,
  trigger        TEXT NOT NULL,
  status         TEXT NOT NULL,
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  duration_ms    INTEGER,
  listed         INTEGER,
  skipped        INTEGER NOT NULL DEFAULT 0,
  unchanged      INTEGER NOT NULL DEFAULT 0,
  to_add         INTEGER NOT NULL DEFAULT 0,
  to_modify      INTEGER NOT NULL DEFAULT 0,
  to_delete      INTEGER NOT NULL DEFAULT 0,
  added          INTEGER NOT NULL DEFAULT 0,
  modified       INTEGER NOT NULL DEFAULT 0,
  deleted        INTEGER NOT NULL DEFAULT 0,
  record_errors  INTEGER NOT NULL DEFAULT 0,
  error          TEXT,
  details        TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX host_sync_runs_source ON host_sync_runs (source, id);
CREATE INDEX host_sync_runs_status ON host_sync_runs (status);

CREATE TABLE host_sync_cursors (
  source     TEXT NOT NULL,
  resource   TEXT NOT NULL,
  cursor     TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source, resource)
);

CREATE TABLE upstream_sync_runs (
  id           INTEGER PRIMARY KEY,
  trigger      TEXT NOT NULL,
  status       TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  finished_at  TEXT,
  duration_ms  INTEGER,
  triggered    INTEGER,
  pushed_hosts INTEGER,
  http_status  TEXT,
  error        TEXT
);
