-- PostgreSQL sibling of 004_drift.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Drift state per unit and host: the last check's verdict and the files that differ from git.
CREATE TABLE drift_status (
  unit       TEXT NOT NULL,
  ip         TEXT NOT NULL,
  state      TEXT NOT NULL,
  files      TEXT NOT NULL DEFAULT '[]',
  reason     TEXT,
  commit_sha TEXT,
  checked_at TEXT NOT NULL,
  PRIMARY KEY (unit, ip)
);
