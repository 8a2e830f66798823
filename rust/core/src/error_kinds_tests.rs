//! Table tests of the in-band error mapping: what each upstream's words mean, and what each
//! client dialect is told.

use super::*;

use ErrorKind::*;

/// Words in the order a decoder reads them, an HTTP-like number, the kind, the word kept.
type Case<'a> = (&'a [Option<&'a str>], Option<u64>, ErrorKind, Option<&'a str>);

#[test]
fn every_upstreams_words_are_classified() {
    let table: &[Case<'_>] = &[
        // OpenAI Chat (`code`, then `type`: the code is the specific one) and compatible servers.
        (&[None, Some("rate_limit_error")], None, RateLimited, Some("rate_limit_error")),
        (
            &[Some("context_length_exceeded"), Some("invalid_request_error")],
            None,
            InvalidRequest,
            Some("context_length_exceeded"),
        ),
        (&[Some("invalid_api_key"), Some("invalid_request_error")], None, Authentication, Some("invalid_api_key")),
        (&[Some("model_not_found"), Some("invalid_request_error")], None, NotFound, Some("model_not_found")),
        (&[None, Some("server_error")], None, Internal, Some("server_error")),
        (&[Some("rate_limit_exceeded"), Some("requests")], None, RateLimited, Some("rate_limit_exceeded")),
        (&[Some("rate_limit_exceeded"), Some("tokens")], Some(429), RateLimited, Some("rate_limit_exceeded")),
        (&[Some("insufficient_quota"), Some("insufficient_quota")], None, Billing, Some("insufficient_quota")),
        (&[None, Some("BadRequestError")], Some(400), InvalidRequest, Some("BadRequestError")),
        (&[None, Some("ServiceUnavailableError")], Some(503), Unavailable, Some("ServiceUnavailableError")),
        (&[Some("429"), None], None, RateLimited, Some("429")),
        (&[None, Some("error")], Some(504), Timeout, Some("error")),
        // Anthropic `error.type`.
        (&[Some("overloaded_error")], None, Unavailable, Some("overloaded_error")),
        (&[Some("rate_limit_error")], None, RateLimited, Some("rate_limit_error")),
        (&[Some("api_error")], None, Internal, Some("api_error")),
        (&[Some("invalid_request_error")], None, InvalidRequest, Some("invalid_request_error")),
        (&[Some("authentication_error")], None, Authentication, Some("authentication_error")),
        (&[Some("billing_error")], None, Billing, Some("billing_error")),
        (&[Some("permission_error")], None, Permission, Some("permission_error")),
        (&[Some("not_found_error")], None, NotFound, Some("not_found_error")),
        (&[Some("request_too_large")], None, TooLarge, Some("request_too_large")),
        (&[Some("timeout_error")], None, Timeout, Some("timeout_error")),
        // Gemini (`error.status`, `error.code`).
        (&[Some("RESOURCE_EXHAUSTED")], Some(429), RateLimited, Some("RESOURCE_EXHAUSTED")),
        (&[Some("UNAVAILABLE")], Some(503), Unavailable, Some("UNAVAILABLE")),
        (&[Some("INVALID_ARGUMENT")], Some(400), InvalidRequest, Some("INVALID_ARGUMENT")),
        (&[Some("FAILED_PRECONDITION")], Some(400), InvalidRequest, Some("FAILED_PRECONDITION")),
        (&[Some("PERMISSION_DENIED")], Some(403), Permission, Some("PERMISSION_DENIED")),
        (&[Some("DEADLINE_EXCEEDED")], Some(504), Timeout, Some("DEADLINE_EXCEEDED")),
        (&[Some("INTERNAL")], Some(500), Internal, Some("INTERNAL")),
        (&[None], Some(429), RateLimited, None),
        // Responses (`code`, then `type`).
        (&[Some("rate_limit_exceeded"), None], None, RateLimited, Some("rate_limit_exceeded")),
        (&[Some("invalid_prompt"), None], None, InvalidRequest, Some("invalid_prompt")),
        (&[Some("vector_store_timeout"), None], None, Internal, Some("vector_store_timeout")),
        // Nothing recognisable: the upstream failed.
        (&[], None, Internal, None),
        (&[Some("weird"), Some("stranger")], None, Internal, Some("weird")),
        (&[None], Some(200), Internal, None),
        (&[None], Some(70_000), Internal, None),
        (&[Some("999")], None, Internal, Some("999")),
    ];
    for (words, number, kind, word) in table {
        assert_eq!(classify(words, *number), (*kind, *word), "{words:?} {number:?}");
    }
}

#[test]
fn each_kind_has_its_words_in_every_client_dialect() {
    // (kind, OpenAI type, Anthropic type, google.rpc status and its HTTP code, Responses code)
    let table: &[(ErrorKind, &str, &str, &str, u16, &str)] = &[
        (InvalidRequest, "invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT", 400, "invalid_prompt"),
        (Authentication, "authentication_error", "authentication_error", "UNAUTHENTICATED", 401, "server_error"),
        (Billing, "insufficient_quota", "billing_error", "FAILED_PRECONDITION", 400, "server_error"),
        (Permission, "permission_error", "permission_error", "PERMISSION_DENIED", 403, "server_error"),
        (NotFound, "invalid_request_error", "not_found_error", "NOT_FOUND", 404, "invalid_prompt"),
        (TooLarge, "invalid_request_error", "request_too_large", "INVALID_ARGUMENT", 400, "invalid_prompt"),
        (RateLimited, "rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED", 429, "rate_limit_exceeded"),
        (Internal, "server_error", "api_error", "INTERNAL", 500, "server_error"),
        (Unavailable, "server_error", "overloaded_error", "UNAVAILABLE", 503, "server_error"),
        (Timeout, "server_error", "timeout_error", "DEADLINE_EXCEEDED", 504, "server_error"),
    ];
    assert_eq!(table.len(), TABLE.len());
    for (kind, openai, anthropic, rpc, code, responses) in table {
        assert_eq!(kind.openai_type(), *openai, "{kind:?}");
        assert_eq!(kind.anthropic_type(), *anthropic, "{kind:?}");
        assert_eq!(kind.rpc_status(), *rpc, "{kind:?}");
        assert_eq!(rpc_status::http_status(kind.rpc_status()), Some(*code), "{kind:?}");
        assert_eq!(kind.responses_code(), *responses, "{kind:?}");
    }
}

#[test]
fn the_table_is_consistent() {
    for (i, row) in TABLE.iter().enumerate() {
        // One row per kind, and each word belongs to one row only.
        assert!(TABLE.iter().skip(i + 1).all(|other| other.kind != row.kind), "{:?}", row.kind);
        for word in row.words {
            assert_eq!(ErrorKind::of_word(word), Some(row.kind), "{word}");
        }
        // An Anthropic client's type reads back as the same kind: Anthropic to Anthropic loses nothing.
        assert_eq!(ErrorKind::of_word(row.anthropic), Some(row.kind), "{}", row.anthropic);
        // Every word the encoders write is understood when it comes back from an upstream.
        for written in [row.openai, row.rpc, row.responses] {
            assert!(ErrorKind::of_word(written).is_some(), "{written}");
        }
        // A Gemini client's error is a client error exactly when the kind is the client's fault.
        let code = rpc_status::http_status(row.rpc).unwrap_or_default();
        let clients_fault = !matches!(row.kind, Internal | Unavailable | Timeout);
        assert_eq!(code < 500, clients_fault, "{:?}", row.kind);
    }
}

#[test]
fn http_statuses_have_kinds() {
    let table: &[(u16, ErrorKind)] = &[
        (400, InvalidRequest),
        (401, Authentication),
        (402, Billing),
        (403, Permission),
        (404, NotFound),
        (408, Timeout),
        (409, InvalidRequest),
        (410, NotFound),
        (413, TooLarge),
        (422, InvalidRequest),
        (429, RateLimited),
        (500, Internal),
        (501, Internal),
        (502, Unavailable),
        (503, Unavailable),
        (504, Timeout),
        (529, Unavailable),
        (599, Internal),
    ];
    for (status, kind) in table {
        assert_eq!(ErrorKind::for_http(*status), *kind, "{status}");
    }
}

#[test]
fn a_gemini_client_keeps_an_upstream_status_name_of_the_same_kind() {
    assert_eq!(InvalidRequest.rpc_status_for(Some("FAILED_PRECONDITION")), "FAILED_PRECONDITION");
    assert_eq!(InvalidRequest.rpc_status_for(Some("OUT_OF_RANGE")), "OUT_OF_RANGE");
    assert_eq!(Internal.rpc_status_for(Some("DATA_LOSS")), "DATA_LOSS");
    assert_eq!(RateLimited.rpc_status_for(Some("INVALID_ARGUMENT")), "RESOURCE_EXHAUSTED");
    assert_eq!(Unavailable.rpc_status_for(Some("overloaded_error")), "UNAVAILABLE");
    assert_eq!(Internal.rpc_status_for(None), "INTERNAL");
}
