-- API tokens created through the API (api.tokens in the config are not stored). Only the SHA-256 of the secret is
-- kept: secrets are 32 random bytes made by the server, so a fast hash is enough (nothing to brute-force).
-- Names are never reused (the audit log refers to tokens by name): a revoked token keeps its row.
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  secret_sha256 TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  revoked_by TEXT,
  last_used_at TEXT
);
