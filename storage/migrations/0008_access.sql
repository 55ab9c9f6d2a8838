-- Access control: people and their sessions, scoped API tokens, the audit log, and a
-- maintenance flag (a purge is due after an erasure: deleted values stay in the file's
-- blocks until storage.compact rewrites it).
-- IF NOT EXISTS everywhere: a database rewound to an older schema version (as tests do to
-- replay a migration) may already hold these tables and columns.
-- Only hashes are stored: argon2id for passwords, SHA-256 for session and API tokens.
CREATE TABLE IF NOT EXISTS users (
    name VARCHAR PRIMARY KEY,
    password_hash VARCHAR NOT NULL,
    role VARCHAR NOT NULL,             -- 'viewer' | 'editor' | 'admin'
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS sessions (
    session_hash VARCHAR PRIMARY KEY,  -- SHA-256 of the cookie's token
    user_name VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    source VARCHAR,                    -- the client's address at login
    ended_at TIMESTAMPTZ
);

-- API tokens gain a public id (the first 12 hex characters of their SHA-256), a scope, an
-- optional model they are limited to, and their history. Tokens stored before this
-- migration keep full access: scope 'admin'. The table is rebuilt (rows kept) because
-- DuckDB refuses SET NOT NULL after an UPDATE in the same transaction; the ADD COLUMNs
-- first let one copy serve both an old table and one this migration already rebuilt.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS id VARCHAR;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS scope VARCHAR;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS model VARCHAR;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS created_by VARCHAR;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMPTZ;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMPTZ;
CREATE TABLE api_tokens_v8 (
    token_hash VARCHAR PRIMARY KEY,    -- SHA-256 of the token; the token is never stored
    name VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    id VARCHAR NOT NULL,               -- public: left(token_hash, 12)
    scope VARCHAR NOT NULL,            -- 'ingest' | 'read' | 'admin'
    model VARCHAR,                     -- the one model it may act on; NULL = any
    created_by VARCHAR,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
INSERT INTO api_tokens_v8
SELECT token_hash, name, created_at, coalesce(id, left(token_hash, 12)), coalesce(scope, 'admin'),
       model, created_by, last_used_at, revoked_at
FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v8 RENAME TO api_tokens;

-- Append-only: storage.audit has no update or delete. "at" is a keyword: always quote it.
CREATE SEQUENCE IF NOT EXISTS audit_ids START 1;
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('audit_ids'),
    "at" TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    actor_kind VARCHAR NOT NULL,       -- 'user' | 'token' | 'local' | 'oidc' | 'proxy'
    action VARCHAR NOT NULL,           -- e.g. 'user.add', 'erase', 'denied'
    target VARCHAR NOT NULL,
    detail VARCHAR NOT NULL,           -- JSON object text
    source VARCHAR NOT NULL,           -- the client's address, or 'cli'
    outcome VARCHAR NOT NULL           -- 'ok' | 'denied' | 'failed'
);

CREATE TABLE IF NOT EXISTS maintenance (
    key VARCHAR PRIMARY KEY,
    value VARCHAR,
    updated_at TIMESTAMPTZ
);
