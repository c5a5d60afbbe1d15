-- PostgreSQL sibling of 048_unit_host_dirs.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Directories gitfleet created on a host for a unit: the only ones it removes (when empty) once git drops them.
CREATE TABLE unit_host_dirs (
  unit TEXT NOT NULL,
  ip TEXT NOT NULL,
  path TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (unit, ip, path)
);
