-- Core schema: built-in inventory, deployments with per-unit and per-host results, unit state, webhook dedupe.
CREATE TABLE hosts (
  id          INTEGER PRIMARY KEY,
  ip          TEXT NOT NULL UNIQUE,
  hostname    TEXT,
  env         TEXT NOT NULL,
  port        INTEGER,
  user        TEXT,
  labels      TEXT NOT NULL DEFAULT '{}',
  source      TEXT NOT NULL DEFAULT 'manual',
  source_uid  TEXT,
  hash        TEXT,
  identity    TEXT UNIQUE,
  facts       TEXT,
  facts_at    TEXT,
  facts_via   TEXT,
  metrics     TEXT,
  metrics_at  TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX hosts_source_uid ON hosts (source, source_uid) WHERE source_uid IS NOT NULL;
CREATE INDEX hosts_env ON hosts (env);

CREATE TABLE host_apps (
  host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
  app     TEXT NOT NULL,
  PRIMARY KEY (host_id, app)
);
CREATE INDEX host_apps_app ON host_apps (app);

CREATE TABLE deployments (
  id           INTEGER PRIMARY KEY,
  trigger      TEXT NOT NULL,
  actor        TEXT,
  branch       TEXT NOT NULL,
  before_sha   TEXT,
  after_sha    TEXT,
  request      TEXT NOT NULL DEFAULT '{}',
  units        TEXT NOT NULL DEFAULT '[]',
  status       TEXT NOT NULL,
  error        TEXT,
  resumed_by   INTEGER,
  created_at   TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT
);
CREATE INDEX deployments_status ON deployments (status);

CREATE TABLE deployment_units (
  deployment_id INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  unit          TEXT NOT NULL,
  commit_sha    TEXT,
  status        TEXT NOT NULL,
  reason        TEXT,
  host_count    INTEGER NOT NULL DEFAULT 0,
  started_at    TEXT,
  finished_at   TEXT,
  PRIMARY KEY (deployment_id, unit)
);
CREATE INDEX deployment_units_unit ON deployment_units (unit);

CREATE TABLE host_pushes (
  id            INTEGER PRIMARY KEY,
  deployment_id INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  unit          TEXT NOT NULL,
  ip            TEXT NOT NULL,
  hostname      TEXT,
  status        TEXT NOT NULL,
  exit_code     INTEGER,
  reason        TEXT,
  files_changed INTEGER,
  changes       TEXT,
  stderr_tail   TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  duration_ms   INTEGER,
  started_at    TEXT,
  finished_at   TEXT
);
CREATE INDEX host_pushes_deployment ON host_pushes (deployment_id);

CREATE TABLE unit_state (
  unit             TEXT PRIMARY KEY,
  last_commit      TEXT NOT NULL,
  last_deployed_at TEXT NOT NULL,
  deployment_id    INTEGER
);

CREATE TABLE unit_hosts (
  unit          TEXT NOT NULL,
  ip            TEXT NOT NULL,
  commit_sha    TEXT NOT NULL,
  deployed_at   TEXT NOT NULL,
  deployment_id INTEGER,
  PRIMARY KEY (unit, ip)
);

CREATE TABLE repo_state (
  branch     TEXT PRIMARY KEY,
  last_seen  TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
  key           TEXT PRIMARY KEY,
  source        TEXT NOT NULL,
  deployment_id INTEGER,
  received_at   TEXT NOT NULL
);
