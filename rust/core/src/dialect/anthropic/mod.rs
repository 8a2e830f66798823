//! Anthropic Messages: conversion between this wire format and the IR, requests, responses and
//! streams.
//!
//! - `request.rs`: client body -> IR (`request_to_ir`).
//! - `build.rs`: IR -> upstream body (`request_from_ir`), including the Messages API's
//!   structural rules (alternating turns, tool results first in a user turn, thinking only with
//!   a real signature).
//! - `response.rs`: non-stream answers both ways.
//! - `stream.rs`: the SSE decoder (upstream -> IR events) and encoder (IR events -> client SSE).
//!
//! Usage convention: Anthropic reports `input_tokens` WITHOUT cache reads and cache writes; the
//! IR counts the whole prompt, so the three fields are added on the way in and subtracted on the
//! way out.

mod build;
mod request;
mod response;
mod stream;

pub use build::request_from_ir;
pub use request::request_to_ir;
pub use response::{response_from_ir, response_to_ir};
pub use stream::{ping_event, StreamDecoder, StreamEncoder};

use serde_json::{json, Map, Value};

use crate::ir::StopReason;
use crate::usage::Usage;

/// Anthropic's own usage counters, as its wire objects carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WireUsage {
    /// Uncached prompt tokens only.
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    /// `output_tokens_details.thinking_tokens` (a subset of `output`).
    thinking: u64,
}

impl WireUsage {
    /// Overwrites every counter the `usage` object reports (cumulative values replace earlier
    /// ones). Returns false when `usage` is not an object.
    fn update(&mut self, usage: &Value) -> bool {
        let Some(obj) = usage.as_object() else {
            return false;
        };
        let read = |key: &str| obj.get(key).and_then(Value::as_u64);
        if let Some(n) = read("input_tokens") {
            self.input = n;
        }
        if let Some(n) = read("output_tokens") {
            self.output = n;
        }
        if let Some(n) = read("cache_read_input_tokens") {
            self.cache_read = n;
        }
        if let Some(n) = read("cache_creation_input_tokens") {
            self.cache_creation = n;
        }
        if let Some(n) = obj.get("output_tokens_details").and_then(|d| d.get("thinking_tokens")).and_then(Value::as_u64)
        {
            self.thinking = n;
        }
        true
    }

    fn parse(usage: &Value) -> Option<Self> {
        let mut wire = WireUsage::default();
        wire.update(usage).then_some(wire)
    }

    fn to_ir(self) -> Usage {
        Usage {
            input_tokens: self.input.saturating_add(self.cache_read).saturating_add(self.cache_creation),
            output_tokens: self.output,
            cached_tokens: self.cache_read,
            cache_creation_tokens: self.cache_creation,
            reasoning_tokens: self.thinking,
        }
    }

    fn from_ir(usage: &Usage) -> Self {
        WireUsage {
            input: usage.input_tokens.saturating_sub(usage.cached_tokens).saturating_sub(usage.cache_creation_tokens),
            output: usage.output_tokens,
            cache_read: usage.cached_tokens,
            cache_creation: usage.cache_creation_tokens,
            thinking: usage.reasoning_tokens,
        }
    }

    /// The wire `usage` object; `output` overrides the output count (0 in `message_start`).
    /// The thinking share is reported (`output_tokens_details`) only alongside real output.
    fn to_json(self, output: u64) -> Value {
        let mut usage = json!({
            "input_tokens": self.input,
            "output_tokens": output,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
        });
        if output > 0 && self.thinking > 0 {
            if let Some(obj) = usage.as_object_mut() {
                obj.insert("output_tokens_details".into(), json!({"thinking_tokens": self.thinking}));
            }
        }
        usage
    }
}

fn stop_reason_to_ir(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "tool_use" => StopReason::ToolUse,
        "pause_turn" => StopReason::PauseTurn,
        "refusal" => StopReason::Refusal,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        other => StopReason::Other(other.to_owned()),
    }
}

/// The wire stop reason for an IR one. `ContentFilter` becomes `refusal` (Anthropic's "a
/// safety classifier stopped the answer"); an unknown reason becomes `end_turn`. When the answer
/// holds tool calls, a natural end is reported as `tool_use` (some upstreams, e.g. Gemini, say
/// STOP after a function call, and Anthropic clients loop on `tool_use`).
fn stop_reason_from_ir(reason: &StopReason, has_tool_calls: bool) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::Other(_) if has_tool_calls => "tool_use",
        StopReason::EndTurn | StopReason::Other(_) => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::PauseTurn => "pause_turn",
        StopReason::Refusal | StopReason::ContentFilter => "refusal",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
    }
}

/// A `msg_...` shaped id: the one chosen by the gateway, else the upstream's, prefixed when it
/// does not already look like an Anthropic message id.
fn message_id(preferred: Option<&str>, upstream: &str) -> String {
    let id = preferred.filter(|s| !s.is_empty()).unwrap_or(upstream);
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        "msg_unknown".to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// A tool_use id for a call whose upstream gave none (deterministic: message id + position).
fn tool_use_id(id: &str, message_id: &str, position: usize) -> String {
    if id.is_empty() {
        let base = message_id.strip_prefix("msg_").unwrap_or(message_id);
        format!("toolu_{base}_{position}")
    } else {
        id.to_owned()
    }
}

/// Tool-call arguments (JSON text) as the object `tool_use.input` must be. Empty text, invalid
/// JSON (e.g. a call cut by `max_tokens`) or a non-object value become `{}`: Anthropic rejects
/// anything but an object, and there is no faithful object for such arguments.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::Object(Map::new()),
    }
}
