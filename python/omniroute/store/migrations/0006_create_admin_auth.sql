-- Admin login: the one admin password (a slow-KDF hash, never plain text), live sessions,
-- login throttling state shared by all workers, and the audit log of admin actions.
CREATE TABLE admin_credentials (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at REAL NOT NULL
);

-- One row per live session; the cookie carries the session id, the table only its SHA-256.
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    client_ip TEXT,
    user_agent TEXT
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- scope: 'account' (all clients) or 'ip:<address>'.
CREATE TABLE admin_login_throttle (
    scope TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    client_ip TEXT,
    method TEXT,
    path TEXT,
    status INTEGER,
    detail TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts);
