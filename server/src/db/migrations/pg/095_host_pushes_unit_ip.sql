-- PostgreSQL sibling of ../095 (the same statement serves both).
-- The matrix's "latest finished push per (unit, host)" groups host_pushes by unit and ip: with this index SQLite
-- walks it in order instead of sorting every push ever made.
CREATE INDEX IF NOT EXISTS host_pushes_unit_ip ON host_pushes (unit, ip, id);
