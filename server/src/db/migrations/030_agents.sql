-- Host agents: runs of collection over SSH and one row per host, recorded like deployments.
CREATE TABLE agent_runs (
  id           INTEGER PRIMARY KEY,
  trigger      TEXT NOT NULL,
  actor        TEXT,
  request      TEXT NOT NULL DEFAULT '{}',
  status       TEXT NOT NULL,
  host_count   INTEGER NOT NULL DEFAULT 0,
  error        TEXT,
  created_at   TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT
);
CREATE INDEX agent_runs_status ON agent_runs (status);

CREATE TABLE agent_run_hosts (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES agent_runs (id) ON DELETE CASCADE,
  ip            TEXT NOT NULL,
  host_id       INTEGER REFERENCES hosts (id) ON DELETE SET NULL,
  status        TEXT NOT NULL,
  kind          TEXT,
  reason        TEXT,
  exit_code     INTEGER,
  stderr_tail   TEXT,
  identity      TEXT,
  matched       TEXT,
  plugin_errors TEXT,
  duration_ms   INTEGER,
  started_at    TEXT,
  finished_at   TEXT
);
CREATE INDEX agent_run_hosts_run ON agent_run_hosts (run_id);
CREATE INDEX agent_run_hosts_ip ON agent_run_hosts (ip);
