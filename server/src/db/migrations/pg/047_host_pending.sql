-- PostgreSQL sibling of 047_host_pending.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Write-ahead record of a host push that may change files: set before the transfer, cleared once its hooks ran
-- (or it changed nothing). A row left by a crash means the host may hold files whose validate/reload never ran.
CREATE TABLE host_pending (
  unit TEXT NOT NULL,
  ip TEXT NOT NULL,
  deployment_id BIGINT NOT NULL,
  since TEXT NOT NULL,
  PRIMARY KEY (unit, ip)
);
