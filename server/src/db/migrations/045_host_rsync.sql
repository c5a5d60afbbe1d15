-- The rsync each host runs (first line of `rsync --version`), asked on first contact and again daily.
CREATE TABLE host_rsync (
  ip TEXT PRIMARY KEY,
  version_line TEXT NOT NULL,
  supported INTEGER NOT NULL,
  problem TEXT,
  checked_at TEXT NOT NULL
);
