-- Inbound keys: public id of generated keys, where a key came from, budgets and limits
-- (enforced by the key policy), and a revision counter that every change to the table bumps,
-- so workers notice a revoke or rotation by another process with one cheap read.
ALTER TABLE api_keys ADD COLUMN public_id TEXT;
ALTER TABLE api_keys ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
ALTER TABLE api_keys ADD COLUMN updated_at REAL;
ALTER TABLE api_keys ADD COLUMN daily_budget REAL;
ALTER TABLE api_keys ADD COLUMN weekly_budget REAL;
ALTER TABLE api_keys ADD COLUMN monthly_budget REAL;
ALTER TABLE api_keys ADD COLUMN budget_warning REAL NOT NULL DEFAULT 0.8;
ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
ALTER TABLE api_keys ADD COLUMN tpm INTEGER;
ALTER TABLE api_keys ADD COLUMN max_concurrent INTEGER;
CREATE UNIQUE INDEX api_keys_public_id ON api_keys (public_id) WHERE public_id IS NOT NULL;

CREATE TABLE api_key_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO api_key_revision (id, revision) VALUES (1, 0);

CREATE TRIGGER api_keys_bump_on_insert AFTER INSERT ON api_keys
BEGIN
    UPDATE api_key_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_bump_on_update AFTER UPDATE ON api_keys
BEGIN
    UPDATE api_key_revision SET revision = revision + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_bump_on_delete AFTER DELETE ON api_keys
BEGIN
    UPDATE api_key_revision SET revision = revision + 1 WHERE id = 1;
END;
