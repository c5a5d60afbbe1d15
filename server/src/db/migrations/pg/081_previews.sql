-- PostgreSQL sibling of 081_previews.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Merge-request previews: one row per merge request / pull request (its one comment, edited in place), and
-- what its last preview found.
CREATE TABLE previews (
  source       TEXT NOT NULL,          -- gitlab | github
  project      TEXT NOT NULL,          -- GitLab project id, GitHub owner/repo
  number       INTEGER NOT NULL,       -- merge request iid / pull request number
  url          TEXT,
  head_sha     TEXT NOT NULL,          -- the newest head asked for
  status       TEXT NOT NULL,          -- queued | waiting | running | done | failed
  comment_id   TEXT,                   -- the note / issue comment, once posted
  result       TEXT,                   -- JSON of the last finished preview
  error        TEXT,
  requested_at TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  PRIMARY KEY (source, project, number)
);
