//! OpenAI Chat Completions: conversion between this wire format and the IR, requests,
//! responses and streams.
//!
//! The same shape is spoken by most "OpenAI-compatible" providers (DeepSeek, Groq, OpenRouter,
//! vLLM, Ollama…), so the readers are lenient about their variations: reasoning as
//! `reasoning_content` or `reasoning`, reasoning inline as `<think>…</think>` at the start of
//! the content (see `think`), extra usage fields. The writers emit only fields the official
//! SDK knows.
//!
//! Files: `request` / `request_write` (request bodies to / from the IR), `response` (non-stream bodies both ways),
//! `decode` / `encode` (SSE streams), `think` (inline reasoning extraction).

mod decode;
mod encode;
mod request;
mod request_write;
mod response;
mod think;

use serde_json::{json, Map, Value};

use crate::ir::StopReason;
use crate::usage::Usage;

pub use decode::StreamDecoder;
pub use encode::StreamEncoder;
pub use request::request_to_ir;
pub use request_write::request_from_ir;
pub use response::{response_from_ir, response_to_ir};

/// IR stop reason for an OpenAI `finish_reason`.
fn stop_reason_from_openai(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// OpenAI `finish_reason` for an IR stop reason. An answer that called tools and otherwise
/// ended normally says `tool_calls` (clients look for it to run the calls).
fn finish_reason_to_openai(reason: &StopReason, called_tools: bool) -> &'static str {
    match reason {
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter | StopReason::Refusal => "content_filter",
        _ if called_tools => "tool_calls",
        StopReason::Other(other) => match other.as_str() {
            "length" => "length",
            "content_filter" => "content_filter",
            _ => "stop",
        },
        StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn => "stop",
    }
}

/// Reads an OpenAI `usage` object, also taking the SDK's `prompt_tokens_details.cache_write_tokens`
/// as the cache-creation count.
fn read_usage(usage: &Value) -> Option<Usage> {
    let mut parsed = Usage::from_openai(usage)?;
    if parsed.cache_creation_tokens == 0 {
        parsed.cache_creation_tokens =
            usage.pointer("/prompt_tokens_details/cache_write_tokens").and_then(Value::as_u64).unwrap_or(0);
    }
    Some(parsed)
}

/// The `usage` object the official SDK parses (`CompletionUsage`).
fn usage_to_json(usage: &Usage) -> Value {
    let mut prompt_details = Map::new();
    prompt_details.insert("cached_tokens".to_owned(), json!(usage.cached_tokens));
    if usage.cache_creation_tokens > 0 {
        prompt_details.insert("cache_write_tokens".to_owned(), json!(usage.cache_creation_tokens));
    }
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens.saturating_add(usage.output_tokens),
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// A Chat Completions id: kept when it already looks like one, else prefixed.
fn chat_completion_id(id: &str, created: u64) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else if id.is_empty() {
        format!("chatcmpl-{created}")
    } else {
        format!("chatcmpl-{id}")
    }
}

/// A string field of a JSON object, `None` when absent, null or not a string.
fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map_both_ways() {
        for (wire, ir) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("content_filter", StopReason::ContentFilter),
        ] {
            assert_eq!(stop_reason_from_openai(wire), ir);
            assert_eq!(finish_reason_to_openai(&ir, false), wire);
        }
        assert_eq!(stop_reason_from_openai("function_call"), StopReason::ToolUse);
        assert_eq!(stop_reason_from_openai("eos"), StopReason::Other("eos".into()));
        assert_eq!(finish_reason_to_openai(&StopReason::EndTurn, true), "tool_calls");
        assert_eq!(finish_reason_to_openai(&StopReason::MaxTokens, true), "length");
        assert_eq!(finish_reason_to_openai(&StopReason::Refusal, false), "content_filter");
        assert_eq!(finish_reason_to_openai(&StopReason::ContextWindowExceeded, false), "length");
        assert_eq!(finish_reason_to_openai(&StopReason::PauseTurn, false), "stop");
        assert_eq!(finish_reason_to_openai(&StopReason::Other("SAFETY".into()), false), "stop");
    }

    #[test]
    fn usage_round_trips_with_cache_writes() {
        let usage = Usage {
            input_tokens: 100,
            output_tokens: 40,
            cached_tokens: 60,
            cache_creation_tokens: 20,
            reasoning_tokens: 10,
        };
        let wire = usage_to_json(&usage);
        assert_eq!(wire["total_tokens"], 140);
        assert_eq!(read_usage(&wire), Some(usage));
        let plain = usage_to_json(&Usage::default());
        assert!(plain["prompt_tokens_details"].get("cache_write_tokens").is_none());
    }

    #[test]
    fn ids_get_the_chat_completion_prefix() {
        assert_eq!(chat_completion_id("chatcmpl-abc", 1), "chatcmpl-abc");
        assert_eq!(chat_completion_id("msg_01", 1), "chatcmpl-msg_01");
        assert_eq!(chat_completion_id("", 7), "chatcmpl-7");
    }
}
