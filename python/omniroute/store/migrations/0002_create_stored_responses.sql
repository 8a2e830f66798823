-- Responses kept for `previous_response_id` and `GET /v1/responses/{id}` (bounded by TTL and count).
CREATE TABLE stored_responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    input TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX stored_responses_expires ON stored_responses (expires_at);
