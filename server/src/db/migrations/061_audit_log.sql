-- The audit log: append-only. UPDATE is always refused; DELETE only of rows older than the cutoff that the
-- retention path writes into audit_prune_gate in the same transaction (empty otherwise: nothing is older than '').
-- The gate itself cannot move to less than a day ago, so even a stray prune never removes the last day.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  source TEXT,
  action TEXT NOT NULL,
  target TEXT,
  params TEXT NOT NULL,
  outcome TEXT NOT NULL,
  status INTEGER,
  detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

CREATE TABLE audit_prune_gate (id INTEGER PRIMARY KEY CHECK (id = 1), before TEXT NOT NULL);
INSERT INTO audit_prune_gate (id, before) VALUES (1, '');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= (SELECT before FROM audit_prune_gate WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (only the retention prune removes rows, and only old ones)'); END;

CREATE TRIGGER audit_prune_gate_recent BEFORE UPDATE ON audit_prune_gate
WHEN NEW.before > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
BEGIN SELECT RAISE(ABORT, 'audit retention cannot remove the last day'); END;

CREATE TRIGGER audit_prune_gate_no_delete BEFORE DELETE ON audit_prune_gate
BEGIN SELECT RAISE(ABORT, 'audit_prune_gate must stay'); END;
