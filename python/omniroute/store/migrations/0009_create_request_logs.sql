-- The request log: one row per gateway call, for debugging (`/api/logs`). Written in batches
-- off the request path; rows older than `[logging] retention_days` are deleted periodically.
-- Accounting stays in usage_records (its own retention and rollups); this table carries what
-- debugging needs on top: dialects, account, latency phases, attempts, and the optional
-- redacted capture of the bodies (JSON, last column so list queries never read it).
CREATE TABLE request_logs (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    client_dialect TEXT NOT NULL,
    upstream_dialect TEXT,
    provider TEXT,
    account TEXT,
    connection_id INTEGER,
    api_key_id TEXT,
    requested_model TEXT,
    model TEXT,
    combo TEXT,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    upstream_ms REAL NOT NULL DEFAULT 0,
    overhead_ms REAL NOT NULL DEFAULT 0,
    ttfb_ms REAL,
    ttft_ms REAL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    attempt_log TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    capture TEXT
);
CREATE INDEX request_logs_ts ON request_logs (ts, id);
CREATE INDEX request_logs_request_id ON request_logs (request_id);
CREATE INDEX request_logs_provider_ts ON request_logs (provider, ts);
CREATE INDEX request_logs_key_ts ON request_logs (api_key_id, ts);
