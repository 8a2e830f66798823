//! Complete (non-stream) Response objects, both ways, and the pieces of them that the stream
//! encoder reuses (items, usage, the response envelope).

use serde_json::{json, Value};

use super::reasoning_text;
use crate::dialect::{Dialect, EncodeOptions};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatResponse, Part, StopReason};
use crate::usage::Usage;

// ---------------------------------------------------------------------------------------------
// Usage

fn count(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Reads a Responses `usage` object (`input_tokens` already includes cached tokens).
pub(crate) fn usage_from_value(usage: &Value) -> Option<Usage> {
    if !usage.is_object() {
        return None;
    }
    Some(Usage {
        input_tokens: count(usage, "/input_tokens"),
        output_tokens: count(usage, "/output_tokens"),
        cached_tokens: count(usage, "/input_tokens_details/cached_tokens"),
        cache_creation_tokens: count(usage, "/input_tokens_details/cache_write_tokens"),
        reasoning_tokens: count(usage, "/output_tokens_details/reasoning_tokens"),
    })
}

pub(crate) fn usage_to_value(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

// ---------------------------------------------------------------------------------------------
// Ids, items and the response envelope

/// Response ids must look like OpenAI's (`resp_...`); clients store and send them back.
pub(crate) fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else if id.is_empty() {
        "resp_0".to_owned()
    } else {
        format!("resp_{id}")
    }
}

/// A deterministic, distinct item id: `<prefix>_<response id body>_<output index>`.
pub(crate) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let body = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{body}_{index}")
}

pub(crate) fn message_item(id: &str, text: Option<&str>, status: &str) -> Value {
    let content: Vec<Value> = match text {
        Some(text) => vec![output_text_part(text)],
        None => Vec::new(),
    };
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    })
}

pub(crate) fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

pub(crate) fn reasoning_item(id: &str, text: &str, encrypted: Option<&str>) -> Value {
    let summary: Vec<Value> =
        if text.is_empty() { Vec::new() } else { vec![json!({"type": "summary_text", "text": text})] };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let (Some(data), Some(obj)) = (encrypted, item.as_object_mut()) {
        obj.insert("encrypted_content".into(), json!(data));
    }
    item
}

pub(crate) fn function_call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    })
}

/// Arguments as sent to clients: an empty string is not JSON, an empty object is.
pub(crate) fn arguments_or_empty_object(arguments: &str) -> &str {
    if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    }
}

/// Whether opaque reasoning state may be shown to a Responses client: only when it came from
/// a Responses upstream.
pub(crate) fn may_emit_encrypted(opts: &EncodeOptions, origin: Option<Dialect>) -> bool {
    opts.upstream == Some(Dialect::Responses) && origin.is_none_or(|o| o == Dialect::Responses)
}

/// `status` and `incomplete_details.reason` for an IR stop reason.
pub(crate) fn status_for(reason: Option<&StopReason>) -> (&'static str, Option<&'static str>) {
    match reason {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => ("incomplete", Some("max_output_tokens")),
        Some(StopReason::ContentFilter) => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// The fields of a Response object that vary.
pub(crate) struct Envelope<'a> {
    pub id: &'a str,
    pub created: u64,
    pub model: &'a str,
    pub status: &'a str,
    pub incomplete_reason: Option<&'a str>,
    pub error: Option<Value>,
    pub output: Vec<Value>,
    pub usage: Option<&'a Usage>,
}

pub(crate) fn response_object(e: Envelope<'_>) -> Value {
    let incomplete = e.incomplete_reason.map(|r| json!({"reason": r}));
    json!({
        "id": e.id,
        "object": "response",
        "created_at": e.created,
        "status": e.status,
        "error": e.error,
        "incomplete_details": incomplete,
        "instructions": null,
        "model": e.model,
        "output": e.output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "temperature": null,
        "top_p": null,
        "usage": e.usage.map(usage_to_value),
        "metadata": {},
    })
}

// ---------------------------------------------------------------------------------------------
// Upstream Response -> IR

fn upstream_str<'a>(obj: &'a Value, key: &str, what: &str) -> CoreResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CoreError::upstream(format!("upstream {what} has a non-string '{key}'"))),
    }
}

/// The IR parts of one output item (messages may give several); items the IR cannot express
/// (built-in tool calls...) give none.
pub(crate) fn output_item_parts(item: &Value) -> CoreResult<Vec<Part>> {
    if !item.is_object() {
        return Err(CoreError::upstream("upstream output item is not an object"));
    }
    let mut parts = Vec::new();
    match item.get("type").and_then(Value::as_str) {
        Some("message") => {
            let content = match item.get("content") {
                None | Some(Value::Null) => return Ok(parts),
                Some(Value::Array(c)) => c,
                Some(_) => return Err(CoreError::upstream("upstream message item content is not an array")),
            };
            for part in content {
                let text = match part.get("type").and_then(Value::as_str) {
                    Some("output_text") => upstream_str(part, "text", "output_text part")?,
                    Some("refusal") => upstream_str(part, "refusal", "refusal part")?,
                    _ => None,
                };
                if let Some(text) = text {
                    parts.push(Part::text(text));
                }
            }
        }
        Some("function_call") => {
            let call_id = match upstream_str(item, "call_id", "function_call item")? {
                Some(id) => id,
                None => upstream_str(item, "id", "function_call item")?.unwrap_or_default(),
            };
            parts.push(Part::ToolCall {
                id: call_id.to_owned(),
                name: upstream_str(item, "name", "function_call item")?.unwrap_or_default().to_owned(),
                arguments: upstream_str(item, "arguments", "function_call item")?.unwrap_or_default().to_owned(),
                signature: None,
            });
        }
        Some("reasoning") => {
            let text = reasoning_text(item, "reasoning", false)?;
            let encrypted = upstream_str(item, "encrypted_content", "reasoning item")?.map(str::to_owned);
            if !text.is_empty() || encrypted.is_some() {
                parts.push(Part::Reasoning { text, signature: None, encrypted, origin: Some(Dialect::Responses) });
            }
        }
        _ => {}
    }
    Ok(parts)
}

/// The message of an upstream `error` object, if there is one.
pub(crate) fn error_message(error: Option<&Value>) -> Option<String> {
    let error = error.filter(|e| !e.is_null())?;
    Some(error.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| error.to_string()))
}

/// The stop reason of a finished response whose output did (not) contain function calls.
pub(crate) fn stop_reason_of(response: &Value, saw_tool_call: bool) -> StopReason {
    match response.get("status").and_then(Value::as_str) {
        Some("incomplete") => match response.pointer("/incomplete_details/reason").and_then(Value::as_str) {
            Some("max_output_tokens") => StopReason::MaxTokens,
            Some("content_filter") => StopReason::ContentFilter,
            Some(other) => StopReason::Other(other.to_owned()),
            None => StopReason::Other("incomplete".to_owned()),
        },
        Some("cancelled") => StopReason::Other("cancelled".to_owned()),
        _ if saw_tool_call => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

pub fn response_to_ir(body: &Value) -> CoreResult<ChatResponse> {
    if !body.is_object() {
        return Err(CoreError::upstream("upstream response is not a JSON object"));
    }
    if let Some(message) = error_message(body.get("error")) {
        return Err(CoreError::upstream(message));
    }
    if body.get("status").and_then(Value::as_str) == Some("failed") {
        return Err(CoreError::upstream("upstream response failed"));
    }
    let mut parts = Vec::new();
    match body.get("output") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                parts.extend(output_item_parts(item)?);
            }
        }
        Some(_) => return Err(CoreError::upstream("upstream response output is not an array")),
    }
    let saw_tool_call = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    Ok(ChatResponse {
        id: upstream_str(body, "id", "response")?.unwrap_or_default().to_owned(),
        model: upstream_str(body, "model", "response")?.unwrap_or_default().to_owned(),
        created: body.get("created_at").and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))),
        stop_reason: stop_reason_of(body, saw_tool_call),
        stop_sequence: None,
        usage: body.get("usage").and_then(usage_from_value),
        parts,
    })
}

// ---------------------------------------------------------------------------------------------
// IR -> client Response

pub fn response_from_ir(response: &ChatResponse, opts: &EncodeOptions) -> Value {
    let id = response_id(opts.response_id.as_deref().unwrap_or(&response.id));
    let mut output: Vec<Value> = Vec::new();
    // Consecutive text parts form one message item.
    let mut pending_text: Option<String> = None;
    let flush = |pending: &mut Option<String>, output: &mut Vec<Value>| {
        if let Some(text) = pending.take() {
            let item_id = item_id("msg", &id, output.len());
            output.push(message_item(&item_id, Some(&text), "completed"));
        }
    };
    for part in &response.parts {
        match part {
            Part::Text { text, .. } => pending_text.get_or_insert_with(String::new).push_str(text),
            Part::Reasoning { text, encrypted, origin, .. } => {
                flush(&mut pending_text, &mut output);
                let encrypted = encrypted.as_deref().filter(|_| may_emit_encrypted(opts, *origin));
                if text.is_empty() && encrypted.is_none() {
                    continue;
                }
                let item_id = item_id("rs", &id, output.len());
                output.push(reasoning_item(&item_id, text, encrypted));
            }
            Part::ToolCall { id: call_id, name, arguments, .. } => {
                flush(&mut pending_text, &mut output);
                let item_id = item_id("fc", &id, output.len());
                output.push(function_call_item(
                    &item_id,
                    call_id,
                    name,
                    arguments_or_empty_object(arguments),
                    "completed",
                ));
            }
            Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    flush(&mut pending_text, &mut output);
    let (status, incomplete_reason) = status_for(Some(&response.stop_reason));
    let model = opts.model.as_deref().unwrap_or(&response.model);
    response_object(Envelope {
        id: &id,
        created: response.created.unwrap_or(opts.created),
        model,
        status,
        incomplete_reason,
        error: None,
        output,
        usage: response.usage.as_ref(),
    })
}
