-- Which rendered copy of a templated unit a host push sent (README "Templates and secrets"): hosts with the same
-- value received byte-identical files. NULL for units without templates.
ALTER TABLE host_pushes ADD COLUMN render_hash TEXT;
