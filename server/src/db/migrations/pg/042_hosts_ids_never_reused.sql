-- PostgreSQL sibling of 042_hosts_ids_never_reused.sql: nothing to do. An identity column never hands out an id
-- again (the SQLite migration rebuilds hosts with AUTOINCREMENT to get the same guarantee).
SELECT 1;
