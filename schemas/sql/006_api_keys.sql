-- API keys (only their keyed hash), web sessions and one-time sign-in links.
CREATE TABLE api_keys (
    id            bigserial PRIMARY KEY,
    user_name     text NOT NULL CHECK (user_name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- A session (web sign-in, a cookie) or a one-time sign-in link, acting with one key's rights.
CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY,
    key_id      bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('session', 'link')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
