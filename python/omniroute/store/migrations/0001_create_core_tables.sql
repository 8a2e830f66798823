-- Accounts at registry providers; the API key is sealed by the vault.
CREATE TABLE connections (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    base_url TEXT,
    priority INTEGER NOT NULL DEFAULT 1,
    enabled INTEGER NOT NULL DEFAULT 1,
    secret BLOB,
    models TEXT NOT NULL DEFAULT '[]',
    config_hash TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (provider, name)
);

-- Custom compatible endpoints reachable under their own model prefix.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    dialect TEXT NOT NULL,
    base_url TEXT NOT NULL,
    secret BLOB,
    models TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    config_hash TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Inbound keys, stored as hashes only.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    allowed_models TEXT NOT NULL DEFAULT '[]',
    config_hash TEXT,
    created_at REAL NOT NULL,
    revoked_at REAL
);

-- One row per gateway call (written in batches off the request path).
CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    api_key_id TEXT,
    route TEXT NOT NULL,
    client_dialect TEXT NOT NULL,
    provider TEXT,
    connection_id INTEGER,
    requested_model TEXT,
    model TEXT,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX usage_records_ts ON usage_records (ts);
CREATE INDEX usage_records_key_ts ON usage_records (api_key_id, ts);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
