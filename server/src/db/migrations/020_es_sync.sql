-- Elasticsearch metrics sync: tasks (soft-deleted), one execution log per run, one detail row per host of a run.
CREATE TABLE es_sync_tasks (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  es_endpoint   TEXT,
  index_pattern TEXT NOT NULL,
  cron          TEXT NOT NULL,
  time_range    TEXT NOT NULL,
  enabled       INTEGER NOT NULL DEFAULT 1,
  created_by    TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  deleted_at    TEXT
);
-- Names are unique among tasks that are not deleted; a deleted task's name may be reused.
CREATE UNIQUE INDEX es_sync_tasks_name ON es_sync_tasks (name) WHERE deleted_at IS NULL;

CREATE TABLE es_sync_runs (
  id                INTEGER PRIMARY KEY,
  task_id           INTEGER NOT NULL REFERENCES es_sync_tasks (id),
  task_name         TEXT NOT NULL,
  trigger           TEXT NOT NULL,
  status            TEXT NOT NULL,
  time_range        TEXT NOT NULL,
  es_endpoint       TEXT NOT NULL,
  index_pattern     TEXT NOT NULL,
  total_hosts       INTEGER NOT NULL DEFAULT 0,
  success_count     INTEGER NOT NULL DEFAULT 0,
  failed_count      INTEGER NOT NULL DEFAULT 0,
  not_in_pool_count INTEGER NOT NULL DEFAULT 0,
  no_data_count     INTEGER NOT NULL DEFAULT 0,
  requests          INTEGER NOT NULL DEFAULT 0,
  error             TEXT,
  started_at        TEXT NOT NULL,
  finished_at       TEXT,
  duration_ms       INTEGER
);
CREATE INDEX es_sync_runs_task ON es_sync_runs (task_id, id);
CREATE INDEX es_sync_runs_status ON es_sync_runs (status);

CREATE TABLE es_sync_run_hosts (
  run_id      INTEGER NOT NULL REFERENCES es_sync_runs (id) ON DELETE CASCADE,
  ip          TEXT NOT NULL,
  hostname    TEXT,
  status      TEXT NOT NULL,
  error       TEXT,
  cpu_max     REAL,
  cpu_avg     REAL,
  mem_max     REAL,
  mem_avg     REAL,
  disk_max    REAL,
  disk_avg    REAL,
  data_points INTEGER,
  last_sample_at TEXT,
  PRIMARY KEY (run_id, ip)
);
CREATE INDEX es_sync_run_hosts_status ON es_sync_run_hosts (run_id, status);
