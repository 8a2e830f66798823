-- Daily usage rollups, maintained in the same transaction as the raw usage_records rows, so
-- summaries and budgets never scan raw rows. A missing dimension is stored as '' (NULLs would
-- defeat the primary key). `day` is the UTC calendar day, 'YYYY-MM-DD'.
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    api_key_id TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    combo TEXT NOT NULL DEFAULT '',
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, api_key_id, provider, model, combo)
) WITHOUT ROWID;
CREATE INDEX usage_daily_key_day ON usage_daily (api_key_id, day);

-- Rows recorded before this migration, so summaries cover them too.
INSERT INTO usage_daily (day, api_key_id, provider, model, combo, requests, errors, input_tokens,
    output_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens, cost_usd)
SELECT strftime('%Y-%m-%d', ts, 'unixepoch'), COALESCE(api_key_id, ''), COALESCE(provider, ''),
    COALESCE(model, ''), COALESCE(combo, ''), COUNT(*), SUM(outcome != 'success'), SUM(input_tokens),
    SUM(output_tokens), SUM(cached_tokens), SUM(cache_creation_tokens), SUM(reasoning_tokens),
    COALESCE(SUM(cost_usd), 0)
FROM usage_records
GROUP BY 1, 2, 3, 4, 5;

-- Price overrides (USD per million tokens) from `[[pricing]]` and `/api/pricing`; `model` '*'
-- prices every model of the provider that has no price of its own.
CREATE TABLE pricing (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input REAL NOT NULL,
    output REAL NOT NULL,
    cached_input REAL,
    cache_creation REAL,
    reasoning REAL,
    config_hash TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (provider, model)
);
