//! Google Gemini generateContent: conversion between this wire format (REST JSON, camelCase)
//! and the IR, for requests, responses and `streamGenerateContent?alt=sse` streams.
//!
//! The model lives in the URL, so requests carry none. Gemini has no call ids of its own on
//! the public API: calls without one get deterministic ids (`call_<n>`, or derived from the
//! response id in answers) and function responses without one are paired with the pending
//! call of the same name. A `thoughtSignature` on a call stays on the `ToolCall`; on a text or
//! thought part it becomes the signature of a `Reasoning` part (an empty one placed before the
//! text when the text is not a thought), and is only written back for Gemini.

mod decode;
mod encode;
mod request_in;
mod request_out;
mod response;
pub mod schema;

pub use decode::StreamDecoder;
pub use encode::StreamEncoder;
pub use request_in::request_to_ir;
pub use request_out::request_from_ir;
pub use response::{response_from_ir, response_to_ir};

use serde_json::{json, Map, Value};

use crate::dialect::Dialect;
use crate::error::CoreError;
use crate::ir::{ImageSource, Part, StopReason};
use crate::usage::Usage;

/// Who sent the JSON being read: a client (errors are its fault) or the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Request,
    Upstream,
}

fn bad(source: Source, message: impl Into<String>, field: &str) -> CoreError {
    match source {
        Source::Request => CoreError::invalid_param(message, field),
        Source::Upstream => CoreError::upstream(format!("gemini {field}: {}", message.into())),
    }
}

/// Calls seen so far, to give ids to calls and to pair function responses with them.
#[derive(Debug, Default)]
struct CallLedger {
    prefix: String,
    calls: Vec<CallRecord>,
}

#[derive(Debug)]
struct CallRecord {
    id: String,
    name: String,
    turn: usize,
    answered: bool,
}

impl CallLedger {
    fn new(prefix: String) -> Self {
        CallLedger { prefix, calls: Vec::new() }
    }

    /// Id of a new call (the given one, else `<prefix><n>`), recorded as pending.
    fn call(&mut self, given: Option<&str>, name: &str, turn: usize) -> String {
        let id = match given.filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => format!("{}{}", self.prefix, self.calls.len()),
        };
        self.calls.push(CallRecord { id: id.clone(), name: name.to_owned(), turn, answered: false });
        id
    }

    /// Call id a function response answers: its own id, else the first pending call with that
    /// name in the latest turn that has one (responses come back in call order).
    fn answer(&mut self, given: Option<&str>, name: &str) -> (String, Option<String>) {
        if let Some(id) = given.filter(|id| !id.is_empty()) {
            let record = self.calls.iter_mut().rev().find(|c| c.id == id);
            let name = record.map(|c| {
                c.answered = true;
                c.name.clone()
            });
            return (id.to_owned(), name);
        }
        let pending = |c: &CallRecord| !c.answered && c.name == name;
        let turn = self.calls.iter().filter(|c| pending(c)).map(|c| c.turn).max();
        if let Some(turn) = turn {
            if let Some(record) = self.calls.iter_mut().find(|c| pending(c) && c.turn == turn) {
                record.answered = true;
                return (record.id.clone(), Some(record.name.clone()));
            }
        }
        // No call to answer (history trimmed by the client): a fresh id keeps ids unique.
        let id = format!("{}{}", self.prefix, self.calls.len());
        self.calls.push(CallRecord { id: id.clone(), name: name.to_owned(), turn: 0, answered: true });
        (id, None)
    }
}

/// Prefix of generated call ids in an answer: unique per response when it has an id.
fn call_prefix(response_id: &str) -> String {
    let clean: String = response_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    if clean.is_empty() {
        "call_".to_owned()
    } else {
        format!("call_{clean}_")
    }
}

/// One Gemini part read into the IR.
enum ReadPart {
    Parts(Vec<Part>),
    /// A `functionResponse` (goes into a `Role::Tool` message).
    Result(Part),
}

fn get_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    source: Source,
    field: &str,
) -> Result<Option<&'a str>, CoreError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(source, format!("{field}.{key} must be a string"), &format!("{field}.{key}"))),
    }
}

fn read_part(
    part: &Value,
    field: &str,
    source: Source,
    calls: &mut CallLedger,
    turn: usize,
) -> Result<ReadPart, CoreError> {
    let Some(obj) = part.as_object() else {
        return Err(bad(source, format!("{field} must be an object"), field));
    };
    let signature = get_str(obj, "thoughtSignature", source, field)?.map(str::to_owned);
    let thought = obj.get("thought").and_then(Value::as_bool) == Some(true);
    let reasoning = |text: String, signature: Option<String>| Part::Reasoning {
        text,
        signature,
        encrypted: None,
        origin: Some(Dialect::Gemini),
    };

    if let Some(call) = obj.get("functionCall") {
        let field = format!("{field}.functionCall");
        let Some(call) = call.as_object() else {
            return Err(bad(source, format!("{field} must be an object"), &field));
        };
        let Some(name) = get_str(call, "name", source, &field)? else {
            return Err(bad(source, format!("{field}.name is required"), &format!("{field}.name")));
        };
        let arguments = match call.get("args") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(args @ Value::Object(_)) => args.to_string(),
            Some(_) => return Err(bad(source, format!("{field}.args must be an object"), &format!("{field}.args"))),
        };
        let id = calls.call(get_str(call, "id", source, &field)?, name, turn);
        return Ok(ReadPart::Parts(vec![Part::ToolCall { id, name: name.to_owned(), arguments, signature }]));
    }
    if let Some(response) = obj.get("functionResponse") {
        return read_function_response(response, &format!("{field}.functionResponse"), source, calls)
            .map(ReadPart::Result);
    }
    if obj.contains_key("text") {
        let text = get_str(obj, "text", source, field)?.unwrap_or_default().to_owned();
        return Ok(ReadPart::Parts(match (thought, signature) {
            (true, signature) => vec![reasoning(text, signature)],
            // The signature of a visible text part rides on an empty reasoning part before it.
            (false, Some(signature)) => {
                vec![reasoning(String::new(), Some(signature)), Part::text(text)]
            }
            (false, None) if text.is_empty() => Vec::new(),
            (false, None) => vec![Part::text(text)],
        }));
    }
    if let Some(image) = read_media(obj, field, source)? {
        return Ok(ReadPart::Parts(vec![image]));
    }
    // Server-side tool parts (executableCode...) have no IR form; a bare signature survives.
    Ok(ReadPart::Parts(signature.map(|s| reasoning(String::new(), Some(s))).into_iter().collect()))
}

/// `inlineData` / `fileData` as an image part (the IR's only media part).
fn read_media(obj: &Map<String, Value>, field: &str, source: Source) -> Result<Option<Part>, CoreError> {
    if let Some(blob) = obj.get("inlineData") {
        let field = format!("{field}.inlineData");
        let Some(blob) = blob.as_object() else {
            return Err(bad(source, format!("{field} must be an object"), &field));
        };
        let media_type = get_str(blob, "mimeType", source, &field)?.unwrap_or("application/octet-stream");
        let Some(data) = get_str(blob, "data", source, &field)? else {
            return Err(bad(source, format!("{field}.data is required"), &format!("{field}.data")));
        };
        let source = ImageSource::Base64 { media_type: media_type.to_owned(), data: data.to_owned() };
        return Ok(Some(Part::Image { source, detail: None }));
    }
    if let Some(file) = obj.get("fileData") {
        let field = format!("{field}.fileData");
        let Some(file) = file.as_object() else {
            return Err(bad(source, format!("{field} must be an object"), &field));
        };
        let Some(uri) = get_str(file, "fileUri", source, &field)? else {
            return Err(bad(source, format!("{field}.fileUri is required"), &format!("{field}.fileUri")));
        };
        return Ok(Some(Part::Image { source: ImageSource::Url(uri.to_owned()), detail: None }));
    }
    Ok(None)
}

fn read_function_response(
    value: &Value,
    field: &str,
    source: Source,
    calls: &mut CallLedger,
) -> Result<Part, CoreError> {
    let Some(obj) = value.as_object() else {
        return Err(bad(source, format!("{field} must be an object"), field));
    };
    let name = get_str(obj, "name", source, field)?;
    let id = get_str(obj, "id", source, field)?;
    if name.is_none() && id.is_none() {
        return Err(bad(source, format!("{field}.name is required"), &format!("{field}.name")));
    }
    let (call_id, call_name) = calls.answer(id, name.unwrap_or_default());
    let response = obj.get("response").unwrap_or(&Value::Null);
    let single = |key: &str| match response.as_object() {
        Some(map) if map.len() == 1 => map.get(key).and_then(Value::as_str),
        _ => None,
    };
    let text = match response {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        _ => match single("result").or_else(|| single("output")).or_else(|| single("error")) {
            Some(s) => s.to_owned(),
            None => response.to_string(),
        },
    };
    let is_error = response.as_object().is_some_and(|map| {
        map.get("error").is_some_and(|e| !e.is_null()) && !map.contains_key("output") && !map.contains_key("result")
    });
    let mut content = vec![Part::text(text)];
    if let Some(Value::Array(parts)) = obj.get("parts") {
        for (i, part) in parts.iter().enumerate() {
            if let Some(media) = part.as_object() {
                content.extend(read_media(media, &format!("{field}.parts[{i}]"), source)?);
            }
        }
    }
    Ok(Part::ToolResult { call_id, name: name.map(str::to_owned).or(call_name), content, is_error })
}

/// Gemini `finishReason` -> IR stop reason.
fn stop_reason(reason: &str, has_calls: bool) -> StopReason {
    match reason {
        "STOP" | "" | "FINISH_REASON_UNSPECIFIED" if has_calls => StopReason::ToolUse,
        "STOP" | "" | "FINISH_REASON_UNSPECIFIED" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// IR stop reason -> Gemini `finishReason`.
fn finish_reason(reason: &StopReason) -> String {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse | StopReason::PauseTurn => "STOP".into(),
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "MAX_TOKENS".into(),
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY".into(),
        StopReason::Other(s) => {
            let enum_like = !s.is_empty()
                && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && s.starts_with(|c: char| c.is_ascii_uppercase());
            if enum_like {
                s.clone()
            } else {
                "OTHER".into()
            }
        }
    }
}

fn count(obj: &Value, key: &str) -> u64 {
    obj.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `usageMetadata` in the IR convention (input includes cached; output includes thoughts).
fn read_usage(metadata: &Value) -> Option<Usage> {
    if !metadata.is_object() {
        return None;
    }
    let thoughts = count(metadata, "thoughtsTokenCount");
    Some(Usage {
        input_tokens: count(metadata, "promptTokenCount") + count(metadata, "toolUsePromptTokenCount"),
        output_tokens: count(metadata, "candidatesTokenCount") + thoughts,
        cached_tokens: count(metadata, "cachedContentTokenCount"),
        cache_creation_tokens: 0,
        reasoning_tokens: thoughts,
    })
}

fn write_usage(usage: &Usage) -> Value {
    let mut out = Map::new();
    out.insert("promptTokenCount".into(), json!(usage.input_tokens));
    out.insert("candidatesTokenCount".into(), json!(usage.output_tokens.saturating_sub(usage.reasoning_tokens)));
    if usage.reasoning_tokens > 0 {
        out.insert("thoughtsTokenCount".into(), json!(usage.reasoning_tokens));
    }
    out.insert("totalTokenCount".into(), json!(usage.input_tokens.saturating_add(usage.output_tokens)));
    if usage.cached_tokens > 0 {
        out.insert("cachedContentTokenCount".into(), json!(usage.cached_tokens));
    }
    Value::Object(out)
}

/// Message and Google status name of an `{"error": {...}}` body.
fn read_error(error: &Value) -> (String, Option<String>) {
    let message = match error.get("message").and_then(Value::as_str) {
        Some(m) => m.to_owned(),
        None => error.as_str().map(str::to_owned).unwrap_or_else(|| error.to_string()),
    };
    let status = error.get("status").and_then(Value::as_str).map(str::to_owned);
    (message, status)
}

/// A call's arguments as the object Gemini wants (anything else becomes `{}`).
fn parse_args(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

fn guess_mime(uri: &str) -> &'static str {
    let path = uri.split(['?', '#']).next().unwrap_or(uri).to_ascii_lowercase();
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => "image/jpeg",
    }
}

/// An IR image as a Gemini part: `inlineData` for base64 and data URLs, `fileData` otherwise.
fn image_part(source: &ImageSource) -> Value {
    match source {
        ImageSource::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        ImageSource::Url(url) => {
            let inline = url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(','))
                .and_then(|(meta, data)| meta.strip_suffix(";base64").map(|mime| (mime, data)));
            match inline {
                Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                None => json!({"fileData": {"mimeType": guess_mime(url), "fileUri": url}}),
            }
        }
    }
}

/// What to write back of the opaque data in model parts.
#[derive(Debug, Clone, Copy)]
struct ModelPartsPolicy {
    /// Reasoning from another dialect is written as thought text (answers) or dropped
    /// (requests: Gemini cannot take foreign thoughts back).
    foreign_reasoning: bool,
    /// Signatures of reasoning parts whose origin is unknown are Gemini's (answers from a
    /// Gemini upstream).
    unknown_origin_is_gemini: bool,
    /// Call signatures are written.
    call_signatures: bool,
    /// Call ids are written.
    call_ids: bool,
}

/// Model-side IR parts (text, reasoning, calls, images) as Gemini parts. An empty reasoning
/// part that only carries a signature gives it to the text or call that follows it, where
/// Gemini put it in the first place.
fn model_parts(parts: &[Part], policy: ModelPartsPolicy) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut pending: Option<String> = None;
    let flush = |out: &mut Vec<Value>, pending: &mut Option<String>| {
        if let Some(signature) = pending.take() {
            out.push(json!({"text": "", "thoughtSignature": signature}));
        }
    };
    for part in parts {
        match part {
            Part::Text { text, .. } => {
                let mut value = json!({"text": text});
                if let Some(signature) = pending.take() {
                    value["thoughtSignature"] = json!(signature);
                }
                out.push(value);
            }
            Part::Reasoning { text, signature, origin, .. } => {
                let gemini = match origin {
                    Some(d) => *d == Dialect::Gemini,
                    None => policy.unknown_origin_is_gemini,
                };
                if !gemini && !policy.foreign_reasoning {
                    continue;
                }
                let signature = signature.as_ref().filter(|_| gemini);
                flush(&mut out, &mut pending);
                if text.is_empty() {
                    pending = signature.cloned();
                    continue;
                }
                let mut value = json!({"text": text, "thought": true});
                if let Some(signature) = signature {
                    value["thoughtSignature"] = json!(signature);
                }
                out.push(value);
            }
            Part::ToolCall { id, name, arguments, signature } => {
                let mut call = json!({"name": name, "args": parse_args(arguments)});
                if policy.call_ids && !id.is_empty() {
                    call["id"] = json!(id);
                }
                let mut value = json!({"functionCall": call});
                let own = signature.as_ref().filter(|_| policy.call_signatures);
                match (own, pending.take()) {
                    (Some(signature), pending_signature) => {
                        if let Some(p) = pending_signature {
                            out.push(json!({"text": "", "thoughtSignature": p}));
                        }
                        value["thoughtSignature"] = json!(signature);
                    }
                    (None, Some(p)) => value["thoughtSignature"] = json!(p),
                    (None, None) => {}
                }
                out.push(value);
            }
            Part::Image { source, .. } => {
                flush(&mut out, &mut pending);
                out.push(image_part(source));
            }
            Part::ToolResult { .. } => {}
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Fixture readers and a whole-stream decoder shared by the tests of every file here.
#[cfg(test)]
mod test_support {
    use serde_json::Value;

    use super::StreamDecoder;
    use crate::dialect::StreamDecode;
    use crate::ir::StreamEvent;
    use crate::sse::SseDecoder;

    pub fn fixture(name: &str) -> String {
        let path = format!("{}/../../tests/fixtures/dialects/gemini/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    pub fn fixture_json(name: &str) -> Value {
        serde_json::from_str(&fixture(name)).unwrap()
    }

    /// Decodes a byte stream delivered in `chunks`: the IR events and whether it completed.
    pub fn decode_chunks(chunks: &[&[u8]]) -> (Vec<StreamEvent>, bool) {
        let mut sse = SseDecoder::new();
        let mut frames = Vec::new();
        for chunk in chunks {
            sse.feed(chunk, &mut frames);
        }
        let mut decoder = StreamDecoder::new();
        let mut events = Vec::new();
        for frame in &frames {
            decoder.on_event(frame, &mut events).unwrap();
        }
        (events, decoder.is_complete())
    }

    pub fn decode(bytes: &[u8]) -> (Vec<StreamEvent>, bool) {
        decode_chunks(&[bytes])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_pairs_responses_in_call_order_within_the_latest_turn() {
        let mut ledger = CallLedger::new("call_".into());
        let old = ledger.call(None, "f", 0);
        let a = ledger.call(None, "f", 2);
        let b = ledger.call(Some("given"), "f", 2);
        assert_eq!((old.as_str(), a.as_str(), b.as_str()), ("call_0", "call_1", "given"));
        assert_eq!(ledger.answer(None, "f").0, "call_1");
        assert_eq!(ledger.answer(Some("given"), "x"), ("given".into(), Some("f".into())));
        assert_eq!(ledger.answer(None, "f").0, "call_0");
        assert_eq!(ledger.answer(None, "f"), ("call_3".into(), None));
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        assert_eq!(stop_reason("STOP", true), StopReason::ToolUse);
        assert_eq!(stop_reason("MAX_TOKENS", false), StopReason::MaxTokens);
        assert_eq!(stop_reason("RECITATION", false), StopReason::ContentFilter);
        assert_eq!(stop_reason("MALFORMED_FUNCTION_CALL", false), StopReason::Other("MALFORMED_FUNCTION_CALL".into()));
        assert_eq!(finish_reason(&StopReason::ToolUse), "STOP");
        assert_eq!(finish_reason(&StopReason::Refusal), "SAFETY");
        assert_eq!(finish_reason(&StopReason::Other("LANGUAGE".into())), "LANGUAGE");
        assert_eq!(finish_reason(&StopReason::Other("tool_calls".into())), "OTHER");
    }

    #[test]
    fn usage_follows_the_ir_convention() {
        let u = read_usage(&json!({
            "promptTokenCount": 100, "cachedContentTokenCount": 40,
            "candidatesTokenCount": 20, "thoughtsTokenCount": 30, "totalTokenCount": 150
        }))
        .unwrap_or_default();
        assert_eq!((u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens), (100, 50, 40, 30));
        assert_eq!(
            write_usage(&u),
            json!({"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
                   "totalTokenCount": 150, "cachedContentTokenCount": 40})
        );
        assert_eq!(read_usage(&json!(3)), None);
    }

    #[test]
    fn images_become_inline_or_file_data() {
        assert_eq!(
            image_part(&ImageSource::Url("data:image/png;base64,AAAA".into())),
            json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}})
        );
        assert_eq!(
            image_part(&ImageSource::Url("https://x.test/cat.webp?s=1".into())),
            json!({"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/cat.webp?s=1"}})
        );
    }

    #[test]
    fn call_prefix_is_sanitised() {
        assert_eq!(call_prefix("ab/c=d"), "call_abcd_");
        assert_eq!(call_prefix(""), "call_");
    }
}
