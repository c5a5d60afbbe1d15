-- PostgreSQL sibling of ../110 (the same table).
-- Fire-once for scheduled runs (README "Leader and schedules"): a scheduled job records its nominal fire time here
-- before it runs; a second would-be leader computing the same (job, fire_at) finds the row and skips. Pruned by
-- retention after a few days.
CREATE TABLE schedule_fires (
  job     TEXT NOT NULL,
  fire_at TEXT NOT NULL,
  node    TEXT NOT NULL,
  at      TEXT NOT NULL,
  PRIMARY KEY (job, fire_at)
);
CREATE INDEX schedule_fires_at ON schedule_fires (at);
