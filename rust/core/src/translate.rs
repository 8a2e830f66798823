//! Request and non-stream response translation between a client dialect and an upstream
//! dialect. Same-dialect traffic is forwarded byte-stable apart from the model rewrite (and
//! the few edits a gateway must make); cross-dialect pairings go through the canonical IR.

use std::borrow::Cow;

use serde_json::Value;

use crate::dialect::{self, Dialect, EncodeOptions};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatRequest, Part, Role};
use crate::json_scan::{scan_object, JsonObject};
use crate::rewrite::{apply, pieces, Edits, Piece};
use crate::sanitize::sanitize_chat_object;
use crate::usage::Usage;

/// What the gateway decided about the upstream request.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpstreamOptions<'a> {
    /// The model id to send upstream (prefix already stripped).
    pub model: Option<&'a str>,
    /// Ask an OpenAI upstream for the usage chunk even when the client did not, so usage is
    /// always recorded (the stream translator withholds that chunk from the client).
    pub force_stream_usage: bool,
    /// The target model rejects the system role: merge system text into the first user turn.
    pub merge_system: bool,
    /// Streaming decided outside the body (Gemini puts it in the URL).
    pub stream: Option<bool>,
}

/// Builds the upstream body from the client's body.
/// Borrowed when the client's bytes go upstream as they are (same dialect, nothing to edit), so
/// a large body is not copied.
pub fn translate_request<'a>(
    body: &'a [u8],
    client: Dialect,
    upstream: Dialect,
    opts: &UpstreamOptions<'_>,
) -> CoreResult<Cow<'a, [u8]>> {
    if is_passthrough(body, client, upstream, opts) {
        let (obj, edits) = passthrough_edits(body, client, opts)?;
        if edits.leaves_unchanged(&obj) {
            return Ok(Cow::Borrowed(body));
        }
        return Ok(Cow::Owned(apply(&obj, &edits)));
    }
    translate_through_ir(body, client, upstream, opts).map(Cow::Owned)
}

/// The upstream body as `translate_request` builds it, said without copying the client's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamBody {
    /// The client's body, as it is.
    Same,
    /// Ranges of the client's body around new bytes (a same-dialect edit).
    Pieces(Vec<Piece>),
    /// A new body (a translation).
    Owned(Vec<u8>),
}

/// `translate_request` for large bodies: a same-dialect edit comes back as pieces of the
/// client's body, which the caller can send as they are.
pub fn translate_request_pieces(
    body: &[u8],
    client: Dialect,
    upstream: Dialect,
    opts: &UpstreamOptions<'_>,
) -> CoreResult<UpstreamBody> {
    if is_passthrough(body, client, upstream, opts) {
        let (obj, edits) = passthrough_edits(body, client, opts)?;
        if edits.leaves_unchanged(&obj) {
            return Ok(UpstreamBody::Same);
        }
        return Ok(UpstreamBody::Pieces(pieces(&obj, &edits)));
    }
    translate_through_ir(body, client, upstream, opts).map(UpstreamBody::Owned)
}

fn is_passthrough(body: &[u8], client: Dialect, upstream: Dialect, opts: &UpstreamOptions<'_>) -> bool {
    client == upstream && !opts.merge_system && !needs_ir_cleanup(body, client)
}

fn translate_through_ir(
    body: &[u8],
    client: Dialect,
    upstream: Dialect,
    opts: &UpstreamOptions<'_>,
) -> CoreResult<Vec<u8>> {
    let value: Value = parse_body(body)?;
    let mut request = dialect::request_to_ir(client, &value)?;
    if let Some(stream) = opts.stream {
        request.stream = stream;
    }
    if opts.merge_system {
        merge_system_into_first_user(&mut request);
    }
    let model = opts.model.or(request.model.as_deref()).unwrap_or_default().to_owned();
    let out = dialect::request_from_ir(upstream, &request, &model)?;
    serde_json::to_vec(&out).map_err(|e| CoreError::invalid(e.to_string()))
}

fn parse_body(body: &[u8]) -> CoreResult<Value> {
    // scan_object gives the precise, client-facing message for malformed bodies.
    scan_object(body)?;
    serde_json::from_slice(body).map_err(|e| CoreError::invalid(format!("invalid JSON: {e}")))
}

/// Anthropic thinking blocks the gateway synthesised (empty signature) would be rejected by an
/// Anthropic upstream; such bodies take the IR path, which drops them.
fn needs_ir_cleanup(body: &[u8], client: Dialect) -> bool {
    client == Dialect::Anthropic
        && (memchr::memmem::find(body, b"\"signature\":\"\"").is_some()
            || memchr::memmem::find(body, b"\"signature\": \"\"").is_some())
}

/// The scanned body and the few edits a same-dialect request needs.
fn passthrough_edits<'a>(
    body: &'a [u8],
    client: Dialect,
    opts: &UpstreamOptions<'_>,
) -> CoreResult<(JsonObject<'a>, Edits<'static>)> {
    let obj = scan_object(body)?;
    let mut edits = Edits::default();
    if let (Some(model), true) = (opts.model, client != Dialect::Gemini) {
        edits.set_string("model", model);
    }
    if client == Dialect::OpenAi {
        let stream = obj.parse_field::<bool>("stream")?.unwrap_or(false);
        if !stream {
            // Never send stream_options upstream when not streaming: some providers reject it.
            edits.remove("stream_options");
        } else if opts.force_stream_usage {
            let mut options = obj
                .get("stream_options")
                .and_then(|m| serde_json::from_str::<Value>(m.raw).ok())
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
            if options.get("include_usage").and_then(Value::as_bool) != Some(true) {
                if let Some(map) = options.as_object_mut() {
                    map.insert("include_usage".to_owned(), Value::Bool(true));
                }
                edits.set_raw("stream_options", options.to_string());
            }
        }
    }
    Ok((obj, edits))
}

/// GLM-style targets: system text goes to the front of the first user turn.
fn merge_system_into_first_user(request: &mut ChatRequest) {
    if request.system.is_empty() {
        return;
    }
    let text: Vec<String> = request
        .system
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    request.system.clear();
    let joined = text.join("\n\n");
    match request.messages.iter_mut().find(|m| m.role == Role::User) {
        Some(first) => first.parts.insert(0, Part::text(joined)),
        None => request.messages.insert(0, crate::ir::Message { role: Role::User, parts: vec![Part::text(joined)] }),
    }
}

/// A translated non-stream response and the usage it reported. The body is borrowed when the
/// upstream's bytes go to the client as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedResponse<'a> {
    pub body: Cow<'a, [u8]>,
    pub usage: Option<Usage>,
}

/// Translates a successful non-stream upstream body into the client's dialect.
pub fn translate_response<'a>(
    body: &'a [u8],
    upstream: Dialect,
    client: Dialect,
    opts: &EncodeOptions,
) -> CoreResult<TranslatedResponse<'a>> {
    if upstream == client && client == Dialect::OpenAi {
        // Nothing to strip (read from borrowed views, no tree): the bytes go on as they are.
        if let Some(usage) = std::str::from_utf8(body).ok().and_then(crate::sanitize::clean_completion) {
            return Ok(TranslatedResponse { body: Cow::Borrowed(body), usage });
        }
    }
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| CoreError::upstream(format!("upstream response is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(CoreError::upstream("upstream response is not a JSON object"));
    }
    if upstream == client && client == Dialect::OpenAi {
        let usage = value.get("usage").and_then(Usage::from_openai);
        let body = if sanitize_chat_object(&mut value) {
            Cow::Owned(serde_json::to_vec(&value).map_err(|e| CoreError::upstream(e.to_string()))?)
        } else {
            Cow::Borrowed(body)
        };
        return Ok(TranslatedResponse { body, usage });
    }
    let response = dialect::response_to_ir(upstream, &value)?;
    if upstream == client {
        // Same dialect: forward the upstream's bytes; the IR only supplied the usage.
        return Ok(TranslatedResponse { body: Cow::Borrowed(body), usage: response.usage });
    }
    let mut opts = opts.clone();
    opts.upstream = Some(upstream);
    let out = dialect::response_from_ir(client, &response, &opts);
    let body = serde_json::to_vec(&out).map_err(|e| CoreError::upstream(e.to_string()))?;
    Ok(TranslatedResponse { body: Cow::Owned(body), usage: response.usage })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(model: &str) -> UpstreamOptions<'_> {
        UpstreamOptions { model: Some(model), force_stream_usage: true, ..Default::default() }
    }

    #[test]
    fn openai_request_rewrites_model_only() {
        let body =
            br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"x_vendor":{"k":[1,2.50]}}"#;
        let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("gpt-4o")).unwrap();
        assert_eq!(
            String::from_utf8(out.into_owned()).unwrap(),
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x_vendor":{"k":[1,2.50]}}"#
        );
    }

    #[test]
    fn stream_options_dropped_when_not_streaming_and_forced_when_streaming() {
        let body = br#"{"model":"a/b","messages":[],"stream_options":{"include_usage":true}}"#;
        let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("b")).unwrap();
        assert_eq!(*out, *br#"{"model":"b","messages":[]}"#);
        let body = br#"{"model":"a/b","messages":[],"stream":true}"#;
        let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("b")).unwrap();
        assert_eq!(*out, *br#"{"model":"b","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#);
    }

    #[test]
    fn anthropic_and_gemini_passthrough_keep_bytes() {
        let body = br#"{"model":"x/claude","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"abc=="}]}], "z":1}"#;
        let out = translate_request(body, Dialect::Anthropic, Dialect::Anthropic, &opts("claude")).unwrap();
        assert_eq!(out.into_owned(), body.to_vec().replace_model(b"x/claude", b"claude"));
        let gem = br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#;
        let out = translate_request(gem, Dialect::Gemini, Dialect::Gemini, &opts("g")).unwrap();
        assert!(matches!(out, Cow::Borrowed(b) if b == gem));
    }

    #[test]
    fn unchanged_same_dialect_body_is_borrowed_not_copied() {
        let plain = opts_plain("gpt-4o");
        for body in [
            &br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#[..],
            br#"{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        ] {
            let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("gpt-4o")).unwrap();
            assert!(matches!(out, Cow::Borrowed(b) if b == body), "{}", String::from_utf8_lossy(body));
        }
        // Any real edit still copies: a different model, a stream_options to drop, a key to add.
        for (body, model) in [
            (&br#"{"model":"openai/gpt-4o","messages":[]}"#[..], "gpt-4o"),
            (br#"{"model":"gpt-4o","messages":[],"stream_options":{}}"#, "gpt-4o"),
            (br#"{"messages":[]}"#, "gpt-4o"),
        ] {
            let opts = UpstreamOptions { model: Some(model), ..plain };
            let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts).unwrap();
            assert!(matches!(out, Cow::Owned(_)), "{}", String::from_utf8_lossy(body));
        }
    }

    fn opts_plain(model: &str) -> UpstreamOptions<'_> {
        UpstreamOptions { model: Some(model), ..Default::default() }
    }

    trait ReplaceModel {
        fn replace_model(self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceModel for Vec<u8> {
        fn replace_model(self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let pos = memchr::memmem::find(&self, from).unwrap();
            [&self[..pos], to, &self[pos + from.len()..]].concat()
        }
    }

    #[test]
    fn response_usage_is_read_and_clean_body_kept() {
        let body =
            br#"{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        let r = translate_response(body, Dialect::OpenAi, Dialect::OpenAi, &EncodeOptions::default()).unwrap();
        assert!(matches!(r.body, Cow::Borrowed(b) if b == body));
        assert_eq!(r.usage.unwrap().output_tokens, 1);
        assert!(translate_response(b"[1]", Dialect::OpenAi, Dialect::OpenAi, &EncodeOptions::default()).is_err());
    }
}
