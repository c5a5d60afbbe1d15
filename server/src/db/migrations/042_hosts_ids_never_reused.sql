-- migrate: foreign-keys off
-- Host ids are never reused: without AUTOINCREMENT SQLite hands the id of a deleted last host to the next one, and
-- GET /api/v1/hosts/:id silently becomes another host. AUTOINCREMENT needs a table rebuild (SQLite's documented
-- 12-step procedure, foreign keys off, checked before commit); every row keeps its id, apps and references.
CREATE TABLE hosts_new (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO hosts_new (id, ip, hostname, env, port, user, labels, source, source_uid, hash, identity, facts, facts_at, facts_via,
                       metrics, metrics_at, created_at, updated_at)
  SELECT id, ip, hostname, env, port, user, labels, source, source_uid, hash, identity, facts, facts_at, facts_via,
         metrics, metrics_at, created_at, updated_at FROM hosts;
DROP TABLE hosts;
ALTER TABLE hosts_new RENAME TO hosts;
CREATE UNIQUE INDEX hosts_source_uid ON hosts (source, source_uid) WHERE source_uid IS NOT NULL;
CREATE INDEX hosts_env ON hosts (env);
