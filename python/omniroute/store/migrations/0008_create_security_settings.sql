-- Network-guard and prompt-guard settings changed through /api/security: one JSON document per
-- section ('network' = [network], 'guard' = [guard]), validated before it is stored. A stored
-- section replaces the configuration file's until it is deleted.
CREATE TABLE security_settings (
    section TEXT PRIMARY KEY CHECK (section IN ('network', 'guard')),
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
