-- PostgreSQL sibling of 070_sync_windows.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Sync windows managed through the API (config ones live in the config file), and units a window holds.
CREATE TABLE sync_windows (
  name       TEXT PRIMARY KEY,
  spec       TEXT NOT NULL,
  actor      TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Automatic deployments of a unit held by a window: released as one sync deployment when the unit may sync again.
-- commit_key '' = the branch head at release (pushes, converge); else the commit to deploy (self-heal).
CREATE TABLE held_units (
  unit           TEXT NOT NULL,
  commit_key     TEXT NOT NULL,
  hosts          TEXT,
  trigger        TEXT NOT NULL,
  deployment_ids TEXT NOT NULL,
  reason         TEXT NOT NULL,
  held_at        TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (unit, commit_key)
);
