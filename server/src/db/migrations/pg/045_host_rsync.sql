-- PostgreSQL sibling of 045_host_rsync.sql (same tables, columns and indexes; see README "PostgreSQL").
-- The rsync each host runs (first line of `rsync --version`), asked on first contact and again daily.
CREATE TABLE host_rsync (
  ip TEXT PRIMARY KEY,
  version_line TEXT NOT NULL,
  supported INTEGER NOT NULL,
  problem TEXT,
  checked_at TEXT NOT NULL
);
