//! Request and non-stream response translation between a client dialect and an upstream
//! dialect. Same-dialect traffic is forwarded byte-stable apart from the model rewrite;
//! cross-dialect pairings go through the canonical IR (added with the translation engine).

use serde_json::Value;

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::json_scan::scan_object;
use crate::rewrite::{apply, Edits};
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
}

fn unsupported(from: Dialect, to: Dialect) -> CoreError {
    CoreError::unsupported(format!(
        "translation {} -> {} is not available",
        from.name(),
        to.name()
    ))
}

/// Builds the upstream body from the client's body.
pub fn translate_request(
    body: &[u8],
    client: Dialect,
    upstream: Dialect,
    opts: &UpstreamOptions<'_>,
) -> CoreResult<Vec<u8>> {
    if client != upstream {
        return Err(unsupported(client, upstream));
    }
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
    Ok(apply(&obj, &edits))
}

/// A translated non-stream response and the usage it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedResponse {
    pub body: Vec<u8>,
    pub usage: Option<Usage>,
}

/// Translates a successful non-stream upstream body into the client's dialect.
pub fn translate_response(
    body: &[u8],
    upstream: Dialect,
    client: Dialect,
) -> CoreResult<TranslatedResponse> {
    if client != upstream || client != Dialect::OpenAi {
        return Err(unsupported(upstream, client));
    }
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| CoreError::upstream(format!("upstream response is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(CoreError::upstream(
            "upstream response is not a JSON object",
        ));
    }
    let usage = value.get("usage").and_then(Usage::from_openai);
    let body = if sanitize_chat_object(&mut value) {
        serde_json::to_vec(&value).map_err(|e| CoreError::upstream(e.to_string()))?
    } else {
        body.to_vec()
    };
    Ok(TranslatedResponse { body, usage })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(model: &str) -> UpstreamOptions<'_> {
        UpstreamOptions {
            model: Some(model),
            force_stream_usage: true,
        }
    }

    #[test]
    fn openai_request_rewrites_model_only() {
        let body = br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"x_vendor":{"k":[1,2.50]}}"#;
        let out =
            translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("gpt-4o")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x_vendor":{"k":[1,2.50]}}"#
        );
    }

    #[test]
    fn stream_options_dropped_when_not_streaming_and_forced_when_streaming() {
        let body = br#"{"model":"a/b","messages":[],"stream_options":{"include_usage":true}}"#;
        let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("b")).unwrap();
        assert_eq!(out, br#"{"model":"b","messages":[]}"#);
        let body = br#"{"model":"a/b","messages":[],"stream":true}"#;
        let out = translate_request(body, Dialect::OpenAi, Dialect::OpenAi, &opts("b")).unwrap();
        assert_eq!(
            out,
            br#"{"model":"b","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#
        );
    }

    #[test]
    fn response_usage_is_read_and_clean_body_kept() {
        let body = br#"{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        let r = translate_response(body, Dialect::OpenAi, Dialect::OpenAi).unwrap();
        assert_eq!(r.body, body.to_vec());
        assert_eq!(r.usage.unwrap().output_tokens, 1);
        assert!(translate_response(b"[1]", Dialect::OpenAi, Dialect::OpenAi).is_err());
    }
}
