-- PostgreSQL sibling of 090_ui_sessions.sql (same tables, columns and indexes; see README "PostgreSQL").
-- Dashboard sign-in sessions: an API token exchanged for a cookie. Only digests are stored (of the session id and of
-- the token it was opened with), so the table leaks neither; a token removed from the config ends its sessions.
CREATE TABLE ui_sessions (
  id_digest    TEXT PRIMARY KEY,
  token_digest TEXT NOT NULL,
  actor        TEXT NOT NULL,
  csrf         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
