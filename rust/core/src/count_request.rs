//! Token-counting request bodies (Anthropic `count_tokens`, Gemini `:countTokens`): their
//! structure checked in the scan that reads them, the request whose tokens they count, and the
//! body sent to an upstream that counts in the client's own dialect.
//!
//! A Gemini count body holds the prompt either as `contents` or as a whole
//! `generateContentRequest` (system instruction and tools included); when both are present the
//! API counts the request and ignores `contents`. The request names its model
//! (`models/{model}`), which is the gateway's name for it: the upstream gets its own.

use serde_json::Value;

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::inspect::{inspect_request, RequestInfo};
use crate::json_scan::{scan_object, scan_object_with};
use crate::request_shapes::count_request_shape;
use crate::rewrite::{apply, Edits};
use crate::translate::{translate_request, UpstreamOptions};

/// The members of a Gemini count body that hold a whole generateContent request.
const GENERATE_REQUEST_KEYS: [&str; 2] = ["generateContentRequest", "generate_content_request"];

/// Checks a count body of `dialect` and reads what routing needs (the model, where the body has
/// one). Malformed bodies are an `InvalidRequest` naming the node, as for `inspect_request`.
pub fn inspect_count_request(body: &[u8], dialect: Dialect) -> CoreResult<RequestInfo> {
    if dialect != Dialect::Gemini {
        return inspect_request(body, dialect);
    }
    let obj = scan_object_with(body, count_request_shape(dialect))?;
    let present = |key: &str| obj.get(key).is_some_and(|m| m.raw != "null");
    if !present("contents") && !GENERATE_REQUEST_KEYS.into_iter().any(present) {
        return Err(CoreError::invalid_param("'contents' or 'generateContentRequest' is required", "contents"));
    }
    Ok(RequestInfo::default())
}

/// The request a parsed count body counts: a Gemini body's `generateContentRequest` when it has
/// one, else the body itself.
pub fn counted_request(body: &Value, dialect: Dialect) -> &Value {
    if dialect == Dialect::Gemini {
        if let Some(inner) = GENERATE_REQUEST_KEYS.iter().find_map(|k| body.get(k).filter(|v| v.is_object())) {
            return inner;
        }
    }
    body
}

/// The count body for an upstream of the client's dialect that serves `model`: byte-stable but
/// for the model (Anthropic's top-level `model`; the `model` of a Gemini `generateContentRequest`,
/// as `models/{model}`).
pub fn count_request_body(body: &[u8], dialect: Dialect, model: &str) -> CoreResult<Vec<u8>> {
    if dialect != Dialect::Gemini {
        let opts = UpstreamOptions { model: Some(model), ..Default::default() };
        return translate_request(body, dialect, dialect, &opts).map(std::borrow::Cow::into_owned);
    }
    let obj = scan_object(body)?;
    let Some(member) = obj.members.iter().find(|m| GENERATE_REQUEST_KEYS.contains(&m.key.as_ref()) && m.raw != "null")
    else {
        return Ok(body.to_vec());
    };
    let inner = scan_object(member.raw.as_bytes())?;
    let mut inner_edits = Edits::default();
    inner_edits.set_string("model", &format!("models/{model}"));
    let rewritten = String::from_utf8(apply(&inner, &inner_edits))
        .map_err(|_| CoreError::invalid("generateContentRequest is not valid UTF-8"))?;
    let mut edits = Edits::default();
    edits.set_raw(member.key.as_ref(), rewritten);
    Ok(apply(&obj, &edits))
}

#[cfg(test)]
#[path = "count_request_tests.rs"]
mod tests;
