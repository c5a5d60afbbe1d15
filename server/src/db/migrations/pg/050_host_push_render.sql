-- PostgreSQL sibling of 050_host_push_render.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Which rendered copy of a templated unit a host push sent (README "Templates and secrets"): hosts with the same
-- value received byte-identical files. NULL for units without templates.
ALTER TABLE host_pushes ADD COLUMN render_hash TEXT;
