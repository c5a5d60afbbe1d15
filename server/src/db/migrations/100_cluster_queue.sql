-- Several processes on one store (issue 19, README "Scale-out"): the deployment and host-push rows are the work
-- queue. A lease (owner, expiry from the database clock) says who works on a row; `attempt` fences a host push so
-- a worker whose lease was reaped cannot record its result over the next attempt's.
ALTER TABLE deployments ADD COLUMN lease_owner TEXT;
ALTER TABLE deployments ADD COLUMN lease_until TEXT;
ALTER TABLE deployments ADD COLUMN lease_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_pushes ADD COLUMN lease_owner TEXT;
ALTER TABLE host_pushes ADD COLUMN lease_until TEXT;
ALTER TABLE host_pushes ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
-- The host's data centre (inventory label cluster.dcField); NULL: any worker may push it.
ALTER TABLE host_pushes ADD COLUMN dc TEXT;
-- Set by the deployment's coordinator when the host's rollout batch starts: from then on workers may claim it.
ALTER TABLE host_pushes ADD COLUMN queued_at TEXT;
-- Why a failed push failed (unreachable, timeout, …): the coordinator defers transient failures as today.
ALTER TABLE host_pushes ADD COLUMN failure_kind TEXT;
-- How to reach the host as the inventory answered (a worker other than the coordinator pushes it).
ALTER TABLE host_pushes ADD COLUMN port INTEGER;
ALTER TABLE host_pushes ADD COLUMN ssh_user TEXT;
CREATE INDEX host_pushes_open ON host_pushes (status, id) WHERE status IN ('pending', 'running');
CREATE INDEX deployments_open ON deployments (status, id) WHERE status IN ('queued', 'running');

-- One run of a unit at a time across processes: the primary key is the lock; a lease makes a dead holder's row
-- expire (the reaper removes it).
CREATE TABLE unit_runs (
  unit          TEXT PRIMARY KEY,
  deployment_id INTEGER NOT NULL,
  owner         TEXT NOT NULL,
  lease_until   TEXT NOT NULL
);

-- Processes of the cluster and when each was last seen (heartbeat); for routing, metrics and the nodes API.
CREATE TABLE cluster_nodes (
  id         TEXT PRIMARY KEY,
  role       TEXT NOT NULL,
  dc         TEXT,
  started_at TEXT NOT NULL,
  seen_at    TEXT NOT NULL
);
