-- PostgreSQL sibling of 043_hosts_source_truth.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Agent reports used to overwrite the hostname of hosts a host-sync source owns without touching the stored hash, so
-- the source never put its own value back. Forget the hash of such hosts that agents reported for: the next run of
-- their source sees a difference and restores its fields (one modify each; nothing else changes).
UPDATE hosts SET hash = NULL
  WHERE hash IS NOT NULL AND facts_via IS NOT NULL AND source NOT IN ('manual', 'api', 'agent', 'agents');
