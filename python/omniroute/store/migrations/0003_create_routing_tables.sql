-- Fallback chains across models and providers.
CREATE TABLE combos (
    name TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    models TEXT NOT NULL,             -- JSON list of {"model": str, "weight": int}
    settings TEXT NOT NULL DEFAULT '{}', -- JSON: max_retries, retry_delay, concurrency_per_model, queue_timeout
    enabled INTEGER NOT NULL DEFAULT 1,
    config_hash TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Exact model aliases (`fast` -> `groq/llama-3.3-70b-versatile`).
CREATE TABLE aliases (
    alias TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    config_hash TEXT
);

-- Wildcard aliases (`claude-sonnet-*` -> target); the most specific pattern wins.
CREATE TABLE wildcard_aliases (
    pattern TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    config_hash TEXT
);

-- Circuit breaker state, so an open breaker stays open across restarts.
CREATE TABLE circuit_breakers (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL,
    opened_at REAL,
    updated_at REAL NOT NULL
);

-- Per-connection outbound limits (0 = off); NULL means the global default.
ALTER TABLE connections ADD COLUMN rpm INTEGER;
ALTER TABLE connections ADD COLUMN min_gap_ms INTEGER;
ALTER TABLE connections ADD COLUMN max_concurrent INTEGER;

-- How many upstream attempts a call made, and whether it fell back.
ALTER TABLE usage_records ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE usage_records ADD COLUMN combo TEXT;
