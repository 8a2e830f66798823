//! Error bodies in each client dialect, before a stream starts and in band after it has.

use serde_json::{json, Value};

use crate::dialect::Dialect;
use crate::rpc_status;
use crate::sse::encode_event;

/// OpenAI `error.type` for an HTTP status.
fn openai_type(status: u16) -> &'static str {
    match status {
        400 | 404 | 409 | 413 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "api_error",
    }
}

/// Anthropic `error.type` for an HTTP status.
fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Gemini `error.status`: the upstream's own status name when it came with the error (in
/// `error_type` from a stream, in `code` from a relayed body) and fits the status, else the
/// name for the HTTP status.
fn gemini_status(e: &ErrorSpec<'_>) -> &'static str {
    [e.error_type, e.code]
        .into_iter()
        .flatten()
        .find_map(|name| rpc_status::matching(e.status, name))
        .unwrap_or_else(|| rpc_status::for_http(e.status))
}

/// Fields of one error, shared by every dialect's shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorSpec<'a> {
    pub status: u16,
    pub message: &'a str,
    /// Overrides the status-derived type (OpenAI `type`, Anthropic `error.type`; Gemini
    /// `error.status` when it is a status name that fits `status`).
    pub error_type: Option<&'a str>,
    pub code: Option<&'a str>,
    pub param: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

fn error_value(dialect: Dialect, e: &ErrorSpec<'_>) -> Value {
    match dialect {
        Dialect::OpenAi | Dialect::Responses => json!({
            "error": {
                "message": e.message,
                "type": e.error_type.unwrap_or_else(|| openai_type(e.status)),
                "param": e.param,
                "code": e.code,
            }
        }),
        Dialect::Anthropic => json!({
            "type": "error",
            "error": {"type": e.error_type.unwrap_or_else(|| anthropic_type(e.status)), "message": e.message},
            "request_id": e.request_id,
        }),
        Dialect::Gemini => json!({
            "error": {"code": e.status, "message": e.message, "status": gemini_status(e)}
        }),
    }
}

/// A complete JSON error body in the client's dialect.
pub fn error_body(dialect: Dialect, e: &ErrorSpec<'_>) -> Vec<u8> {
    serde_json::to_vec(&error_value(dialect, e)).unwrap_or_default()
}

/// An error reported after the stream has started, framed as the dialect's SSE expects:
/// Chat and Gemini get a `data:` payload with an `error` key (the SDKs raise on it),
/// Anthropic an `event: error`, Responses an `event: error` carrying `type: "error"`.
pub fn stream_error_event(dialect: Dialect, e: &ErrorSpec<'_>, sequence_number: u64) -> Vec<u8> {
    let mut out = Vec::new();
    match dialect {
        Dialect::OpenAi | Dialect::Gemini => {
            encode_event(&mut out, None, &error_value(dialect, e).to_string());
        }
        Dialect::Anthropic => {
            encode_event(&mut out, Some("error"), &error_value(dialect, e).to_string());
        }
        Dialect::Responses => {
            let payload = json!({
                "type": "error",
                "sequence_number": sequence_number,
                "message": e.message,
                "code": e.code,
                "param": e.param,
            });
            encode_event(&mut out, Some("error"), &payload.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn openai_shape_with_status_type() {
        let e = ErrorSpec { status: 429, message: "slow down", code: Some("rate_limited"), ..Default::default() };
        assert_eq!(
            parse(&error_body(Dialect::OpenAi, &e)),
            json!({"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limited"}})
        );
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let e = ErrorSpec { status: 529, message: "busy", request_id: Some("req_1"), ..Default::default() };
        assert_eq!(
            parse(&error_body(Dialect::Anthropic, &e)),
            json!({"type":"error","error":{"type":"overloaded_error","message":"busy"},"request_id":"req_1"})
        );
        assert_eq!(
            parse(&error_body(Dialect::Gemini, &e)),
            json!({"error":{"code":529,"message":"busy","status":"UNAVAILABLE"}})
        );
    }

    #[test]
    fn gemini_status_follows_the_http_status_or_the_upstreams_own_name() {
        let status_of = |e: ErrorSpec<'_>| parse(&error_body(Dialect::Gemini, &e))["error"]["status"].clone();
        let e = |status| ErrorSpec { status, message: "x", ..Default::default() };
        assert_eq!(status_of(e(405)), json!("UNIMPLEMENTED"));
        assert_eq!(status_of(e(502)), json!("UNAVAILABLE"));
        assert_eq!(status_of(ErrorSpec { code: Some("FAILED_PRECONDITION"), ..e(400) }), json!("FAILED_PRECONDITION"));
        assert_eq!(status_of(ErrorSpec { error_type: Some("ALREADY_EXISTS"), ..e(409) }), json!("ALREADY_EXISTS"));
        assert_eq!(status_of(ErrorSpec { code: Some("NOT_FOUND"), ..e(500) }), json!("INTERNAL"));
        assert_eq!(status_of(ErrorSpec { code: Some("model_not_found"), ..e(404) }), json!("NOT_FOUND"));
    }

    #[test]
    fn stream_errors_are_framed_per_dialect() {
        let e = ErrorSpec { status: 502, message: "cut", ..Default::default() };
        assert!(stream_error_event(Dialect::OpenAi, &e, 0).starts_with(b"data: {\"error\""));
        assert!(stream_error_event(Dialect::Anthropic, &e, 0).starts_with(b"event: error\ndata: "));
        assert!(stream_error_event(Dialect::Responses, &e, 3).starts_with(b"event: error\ndata: "));
    }
}
