//! What an upstream's in-band stream error means, whatever dialect said it, and how each client
//! dialect says it: one table.
//!
//! A stream decoder reads the upstream's words for its error (OpenAI `error.type` and
//! `error.code`, Anthropic `error.type`, a Gemini `error.status` name, a Responses `code`) and any
//! HTTP-like number (Gemini's `error.code`, the numeric `code` OpenAI-compatible servers send),
//! and `classify` turns them into an `ErrorKind`. A stream encoder writes that kind in its
//! client's words: OpenAI `type`, Anthropic `error.type`, the `google.rpc` status a Gemini client
//! gets (with that status's HTTP code, so the SDK raises a client or a server error as it should),
//! the Responses `error.code`. An error nothing recognises is `Internal`: the upstream failed.

use crate::rpc_status;

/// What went wrong, as far as a client needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    /// Out of credit or quota that waiting will not bring back.
    Billing,
    Permission,
    NotFound,
    TooLarge,
    RateLimited,
    #[default]
    Internal,
    /// Overloaded or temporarily unavailable: retry later.
    Unavailable,
    Timeout,
}

struct Row {
    kind: ErrorKind,
    /// OpenAI Chat `error.type`.
    openai: &'static str,
    /// Anthropic `error.type`.
    anthropic: &'static str,
    /// Gemini `error.status` (`google.rpc.Code` name).
    rpc: &'static str,
    /// Responses `response.error.code` (the API documents only these three generic ones).
    responses: &'static str,
    /// Words upstreams use for this kind (any dialect's type or code names).
    words: &'static [&'static str],
}

const TABLE: [Row; 10] = [
    Row {
        kind: ErrorKind::InvalidRequest,
        openai: "invalid_request_error",
        anthropic: "invalid_request_error",
        rpc: "INVALID_ARGUMENT",
        responses: "invalid_prompt",
        words: &["invalid_request_error", "invalid_prompt", "context_length_exceeded", "bad_request"],
    },
    Row {
        kind: ErrorKind::Authentication,
        openai: "authentication_error",
        anthropic: "authentication_error",
        rpc: "UNAUTHENTICATED",
        responses: "server_error",
        words: &["authentication_error", "invalid_api_key", "unauthenticated"],
    },
    Row {
        kind: ErrorKind::Billing,
        openai: "insufficient_quota",
        anthropic: "billing_error",
        // Gemini's own "enable billing" refusal is FAILED_PRECONDITION (400): retrying won't help.
        rpc: "FAILED_PRECONDITION",
        responses: "server_error",
        words: &["billing_error", "insufficient_quota"],
    },
    Row {
        kind: ErrorKind::Permission,
        openai: "permission_error",
        anthropic: "permission_error",
        rpc: "PERMISSION_DENIED",
        responses: "server_error",
        words: &["permission_error", "permission_denied"],
    },
    Row {
        kind: ErrorKind::NotFound,
        // OpenAI reports an unknown model as an invalid request (code `model_not_found`).
        openai: "invalid_request_error",
        anthropic: "not_found_error",
        rpc: "NOT_FOUND",
        responses: "invalid_prompt",
        words: &["not_found_error", "model_not_found", "not_found"],
    },
    Row {
        kind: ErrorKind::TooLarge,
        openai: "invalid_request_error",
        anthropic: "request_too_large",
        rpc: "INVALID_ARGUMENT",
        responses: "invalid_prompt",
        words: &["request_too_large"],
    },
    Row {
        kind: ErrorKind::RateLimited,
        openai: "rate_limit_error",
        anthropic: "rate_limit_error",
        rpc: "RESOURCE_EXHAUSTED",
        responses: "rate_limit_exceeded",
        words: &["rate_limit_error", "rate_limit_exceeded", "too_many_requests"],
    },
    Row {
        kind: ErrorKind::Internal,
        openai: "server_error",
        anthropic: "api_error",
        rpc: "INTERNAL",
        responses: "server_error",
        words: &["api_error", "server_error", "internal_error", "internal_server_error"],
    },
    Row {
        kind: ErrorKind::Unavailable,
        openai: "server_error",
        anthropic: "overloaded_error",
        rpc: "UNAVAILABLE",
        responses: "server_error",
        words: &["overloaded_error", "overloaded", "service_unavailable", "server_overloaded"],
    },
    Row {
        kind: ErrorKind::Timeout,
        openai: "server_error",
        anthropic: "timeout_error",
        rpc: "DEADLINE_EXCEEDED",
        responses: "server_error",
        words: &["timeout_error", "timeout", "request_timeout"],
    },
];

impl ErrorKind {
    fn row(self) -> &'static Row {
        // Every kind has its row (a test holds the table to that); Internal's is the fallback.
        TABLE.iter().find(|r| r.kind == self).unwrap_or(&TABLE[7])
    }

    pub fn openai_type(self) -> &'static str {
        self.row().openai
    }

    pub fn anthropic_type(self) -> &'static str {
        self.row().anthropic
    }

    pub fn rpc_status(self) -> &'static str {
        self.row().rpc
    }

    pub fn responses_code(self) -> &'static str {
        self.row().responses
    }

    /// The kind an HTTP error status stands for.
    pub fn for_http(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 | 410 => ErrorKind::NotFound,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimited,
            408 | 504 => ErrorKind::Timeout,
            502 | 503 | 529 => ErrorKind::Unavailable,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Internal,
        }
    }

    fn of_word(word: &str) -> Option<ErrorKind> {
        if let Some(row) = TABLE.iter().find(|r| r.words.contains(&word)) {
            return Some(row.kind);
        }
        // A google.rpc name, or an HTTP status written as text ("429").
        let status = rpc_status::http_status(word).or_else(|| word.parse::<u16>().ok())?;
        (400..=599).contains(&status).then(|| ErrorKind::for_http(status))
    }

    /// The status name a Gemini client gets: the upstream's own `word` when it is a status name
    /// of this kind (a FAILED_PRECONDITION stays one), else the kind's.
    pub fn rpc_status_for(self, word: Option<&str>) -> &'static str {
        word.and_then(|w| rpc_status::http_status(w).map(|status| (w, status)))
            .filter(|(_, status)| ErrorKind::for_http(*status) == self)
            .and_then(|(w, status)| rpc_status::matching(status, w))
            .unwrap_or_else(|| self.rpc_status())
    }
}

/// Classifies an upstream's error from its words (type, code... in the order they should count)
/// and an HTTP-like number. Returns the kind and the word it was read from (else the first word).
pub fn classify<'a>(words: &[Option<&'a str>], number: Option<u64>) -> (ErrorKind, Option<&'a str>) {
    let present = || words.iter().flatten().copied();
    if let Some((kind, word)) = present().find_map(|w| ErrorKind::of_word(w).map(|k| (k, w))) {
        return (kind, Some(word));
    }
    let kind = number
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (400..=599).contains(n))
        .map_or(ErrorKind::Internal, ErrorKind::for_http);
    (kind, present().next())
}

#[cfg(test)]
#[path = "error_kinds_tests.rs"]
mod tests;
