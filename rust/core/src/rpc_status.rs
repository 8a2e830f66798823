//! Google RPC status names (`google.rpc.Code`, the `error.status` of Gemini error bodies) and
//! HTTP statuses, in both directions.
//!
//! HTTP -> name inverts the "HTTP Mapping" that `google/rpc/code.proto` documents for each code.
//! Where several codes share a status, or the proto gives a status no code, the choice is made
//! from the codes' documented meanings and explained next to the arm.

/// The `google.rpc.Code` names with the HTTP status `code.proto` documents for each (`OK` aside).
const CANONICAL: [(&str, u16); 16] = [
    ("CANCELLED", 499),
    ("UNKNOWN", 500),
    ("INVALID_ARGUMENT", 400),
    ("DEADLINE_EXCEEDED", 504),
    ("NOT_FOUND", 404),
    ("ALREADY_EXISTS", 409),
    ("PERMISSION_DENIED", 403),
    ("UNAUTHENTICATED", 401),
    ("RESOURCE_EXHAUSTED", 429),
    ("FAILED_PRECONDITION", 400),
    ("ABORTED", 409),
    ("OUT_OF_RANGE", 400),
    ("UNIMPLEMENTED", 501),
    ("INTERNAL", 500),
    ("UNAVAILABLE", 503),
    ("DATA_LOSS", 500),
];

/// The HTTP status `code.proto` documents for a status name; `None` for a name it does not define.
pub fn http_status(name: &str) -> Option<u16> {
    CANONICAL.iter().find(|(n, _)| *n == name).map(|(_, status)| *status)
}

/// The status name for an HTTP error status.
pub fn for_http(status: u16) -> &'static str {
    match status {
        // 400 is shared with FAILED_PRECONDITION and OUT_OF_RANGE; a bare 400 only says the
        // request was wrong, which is INVALID_ARGUMENT. The same for the other statuses that
        // reject a request for its form whatever the server's state: length required, payload
        // too large, URI too long, unsupported media type, unprocessable, headers too large.
        400 | 411 | 413 | 414 | 415 | 422 | 431 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        // 405 has no code of its own. UNIMPLEMENTED is "the operation is not implemented or is
        // not supported/enabled in this service", which is what Method Not Allowed says of the
        // method (and 501, its documented status, is the same refusal server-wide).
        405 | 501 => "UNIMPLEMENTED",
        // Request Timeout: the request did not complete before its deadline.
        408 | 504 => "DEADLINE_EXCEEDED",
        // 409 is shared with ALREADY_EXISTS, which is about creating a resource; an upstream's
        // 409 is a concurrency conflict, ABORTED ("retry at a higher level").
        409 => "ABORTED",
        // Gone: the resource (a retired model) no longer exists.
        410 => "NOT_FOUND",
        // Range Not Satisfiable: "the operation was attempted past the valid range".
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        // A gateway that found no working upstream (502), an unavailable or overloaded service
        // (503, Anthropic's 529): the transient condition UNAVAILABLE names, retried with backoff.
        502 | 503 | 529 => "UNAVAILABLE",
        // Any other refusal (402 payment required, 412/428 preconditions, 423 locked, 424 failed
        // dependency, 451 legal reasons...): the request may be fine but the system is not in a
        // state to run it, and should not be retried until that is fixed.
        400..=499 => "FAILED_PRECONDITION",
        // An unlisted 5xx gives no more information than "the server failed".
        _ => "UNKNOWN",
    }
}

/// `name` (an upstream's own status name) as a static name, when it is a real status name that
/// belongs with HTTP `status`; so a Gemini upstream's 400 FAILED_PRECONDITION can reach a Gemini
/// client unchanged instead of becoming the INVALID_ARGUMENT that `for_http(400)` gives.
pub fn matching(status: u16, name: &str) -> Option<&'static str> {
    CANONICAL.iter().find(|(n, s)| *n == name && *s == status).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_an_upstream_can_send_has_the_documented_name() {
        let table: &[(u16, &str)] = &[
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (402, "FAILED_PRECONDITION"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (405, "UNIMPLEMENTED"),
            (406, "FAILED_PRECONDITION"),
            (408, "DEADLINE_EXCEEDED"),
            (409, "ABORTED"),
            (410, "NOT_FOUND"),
            (412, "FAILED_PRECONDITION"),
            (413, "INVALID_ARGUMENT"),
            (415, "INVALID_ARGUMENT"),
            (416, "OUT_OF_RANGE"),
            (422, "INVALID_ARGUMENT"),
            (423, "FAILED_PRECONDITION"),
            (429, "RESOURCE_EXHAUSTED"),
            (431, "INVALID_ARGUMENT"),
            (451, "FAILED_PRECONDITION"),
            (499, "CANCELLED"),
            (500, "INTERNAL"),
            (501, "UNIMPLEMENTED"),
            (502, "UNAVAILABLE"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
            (505, "UNKNOWN"),
            (507, "UNKNOWN"),
            (520, "UNKNOWN"),
            (529, "UNAVAILABLE"),
            (599, "UNKNOWN"),
        ];
        for (status, name) in table {
            assert_eq!(for_http(*status), *name, "HTTP {status}");
        }
    }

    #[test]
    fn no_error_status_is_internal_unless_it_is_500() {
        for status in 400..=599u16 {
            assert!(http_status(for_http(status)).is_some(), "{status} -> {}", for_http(status));
            assert_eq!(for_http(status) == "INTERNAL", status == 500, "HTTP {status}");
            let class = if status < 500 { 4 } else { 5 };
            let mapped = http_status(for_http(status)).unwrap_or_default() / 100;
            // Every 4xx gets a client-error name and every 5xx a server-error name, except the
            // two whose meaning decides: 405 (UNIMPLEMENTED) and 408 (DEADLINE_EXCEEDED).
            if status != 405 && status != 408 {
                assert_eq!(mapped, class, "HTTP {status} -> {}", for_http(status));
            }
        }
    }

    #[test]
    fn documented_statuses_map_back_to_a_name_with_that_status() {
        for (name, status) in CANONICAL {
            assert_eq!(http_status(for_http(status)), Some(status), "{name}");
            assert_eq!(http_status(name), Some(status));
        }
        assert_eq!(http_status("NOT_A_STATUS"), None);
        assert_eq!(http_status("OK"), None);
    }

    #[test]
    fn an_upstream_name_is_kept_only_when_it_belongs_with_the_status() {
        assert_eq!(matching(400, "FAILED_PRECONDITION"), Some("FAILED_PRECONDITION"));
        assert_eq!(matching(409, "ALREADY_EXISTS"), Some("ALREADY_EXISTS"));
        assert_eq!(matching(500, "DATA_LOSS"), Some("DATA_LOSS"));
        // A name that contradicts the status, an unknown name, or another dialect's code is not.
        assert_eq!(matching(500, "INVALID_ARGUMENT"), None);
        assert_eq!(matching(405, "method_not_allowed"), None);
        assert_eq!(matching(429, "rate_limit_exceeded"), None);
        assert_eq!(matching(400, "invalid_argument"), None);
    }
}
