//! Anthropic Messages non-stream answers to and from the IR.
//!
//! Inbound: `text`, `thinking` (signature kept, origin Anthropic), `redacted_thinking`,
//! `tool_use` blocks; server-tool blocks (`server_tool_use`, `web_search_tool_result`...) are
//! dropped. An error body (`type: "error"`) is an upstream error.
//!
//! Outbound: reasoning becomes a `thinking` block; its signature is only passed when the answer
//! came from an Anthropic upstream, else the signature is `""` (the marker `request_to_ir` reads
//! as "synthesised by the gateway, never send upstream"). Encrypted reasoning from elsewhere and
//! empty reasoning are dropped.

use serde_json::{json, Map, Value};

use super::{message_id, stop_reason_from_ir, stop_reason_to_ir, tool_input, tool_use_id, WireUsage};
use crate::dialect::{Dialect, EncodeOptions};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatResponse, Part, StopReason};

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Message text of an Anthropic error object (`{"type":"error","error":{type, message}}`).
pub(super) fn error_message(body: &Value) -> (String, Option<String>) {
    let error = body.get("error");
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("upstream error").to_owned();
    let error_type = error.and_then(|e| e.get("type")).and_then(Value::as_str).map(str::to_owned);
    (message, error_type)
}

/// Parses an Anthropic Messages answer.
pub fn response_to_ir(body: &Value) -> CoreResult<ChatResponse> {
    let obj = body.as_object().ok_or_else(|| CoreError::upstream("anthropic response is not a JSON object"))?;
    if obj.get("type").and_then(Value::as_str) == Some("error") {
        return Err(CoreError::upstream(error_message(body).0));
    }
    let blocks = match obj.get("content") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(blocks)) => blocks.as_slice(),
        Some(_) => return Err(CoreError::upstream("anthropic response content is not an array")),
    };
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        let Some(block) = block.as_object() else {
            return Err(CoreError::upstream("anthropic response content block is not an object"));
        };
        match str_field(block, "type") {
            "text" => parts.push(Part::text(str_field(block, "text"))),
            "thinking" => {
                let signature = Some(str_field(block, "signature")).filter(|s| !s.is_empty()).map(str::to_owned);
                parts.push(Part::Reasoning {
                    text: str_field(block, "thinking").to_owned(),
                    origin: signature.as_ref().map(|_| Dialect::Anthropic),
                    signature,
                    encrypted: None,
                });
            }
            "redacted_thinking" => parts.push(Part::Reasoning {
                text: String::new(),
                signature: None,
                encrypted: Some(str_field(block, "data").to_owned()),
                origin: Some(Dialect::Anthropic),
            }),
            "tool_use" => parts.push(Part::ToolCall {
                id: str_field(block, "id").to_owned(),
                name: str_field(block, "name").to_owned(),
                arguments: block
                    .get("input")
                    .filter(|v| !v.is_null())
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
                signature: None,
            }),
            _ => {}
        }
    }
    let stop_reason = obj.get("stop_reason").and_then(Value::as_str).map_or(StopReason::EndTurn, stop_reason_to_ir);
    Ok(ChatResponse {
        id: str_field(obj, "id").to_owned(),
        model: str_field(obj, "model").to_owned(),
        created: None,
        parts,
        stop_reason,
        stop_sequence: obj.get("stop_sequence").and_then(Value::as_str).map(str::to_owned),
        usage: obj.get("usage").and_then(WireUsage::parse).map(WireUsage::to_ir),
    })
}

/// Builds the Anthropic Messages answer for a client.
pub fn response_from_ir(response: &ChatResponse, opts: &EncodeOptions) -> Value {
    let id = message_id(opts.response_id.as_deref(), &response.id);
    let pass_opaque = opts.upstream == Some(Dialect::Anthropic);
    let mut content = Vec::with_capacity(response.parts.len());
    let mut tool_calls = 0usize;
    for part in &response.parts {
        match part {
            Part::Text { text, .. } => content.push(json!({"type": "text", "text": text})),
            Part::Reasoning { text, signature, encrypted, origin } => {
                let ours = pass_opaque && *origin == Some(Dialect::Anthropic);
                if let (true, Some(data)) = (ours, encrypted.as_deref()) {
                    content.push(json!({"type": "redacted_thinking", "data": data}));
                } else if ours || !text.is_empty() {
                    let signature = if ours { signature.as_deref().unwrap_or_default() } else { "" };
                    content.push(json!({
                        "type": "thinking",
                        "thinking": text,
                        "signature": signature,
                    }));
                }
            }
            Part::ToolCall { id: call_id, name, arguments, .. } => {
                content.push(json!({
                    "type": "tool_use",
                    "id": tool_use_id(call_id, &id, tool_calls),
                    "name": name,
                    "input": tool_input(arguments),
                }));
                tool_calls += 1;
            }
            Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    let usage = response.usage.as_ref().map(WireUsage::from_ir).unwrap_or_default();
    let stop_sequence = match response.stop_reason {
        StopReason::StopSequence => response.stop_sequence.clone(),
        _ => None,
    };
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": opts.model.as_deref().unwrap_or(&response.model),
        "content": content,
        "stop_reason": stop_reason_from_ir(&response.stop_reason, tool_calls > 0),
        "stop_sequence": stop_sequence,
        "usage": usage.to_json(usage.output),
    })
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
