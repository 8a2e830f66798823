//! Non-stream `chat.completion` bodies to and from the IR.
//!
//! Reading takes the first choice: reasoning (`reasoning_content`, or OpenRouter's
//! `reasoning`, or a leading `<think>` block in the content), text, refusal (as text), tool
//! calls. Writing produces exactly the `ChatCompletion` object of the official SDK, plus
//! `reasoning_content` when the answer reasoned.

use serde_json::{json, Map, Value};

use super::think::{split_all, Segment};
use super::{chat_completion_id, finish_reason_to_openai, read_usage, stop_reason_from_openai, str_field};
use crate::dialect::{Dialect, EncodeOptions};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatResponse, Part, StopReason};

/// The message of an in-band `error` value (an object with `message`, or a bare string).
pub(super) fn error_message(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        other => str_field(other, "message").unwrap_or("upstream reported an error").to_owned(),
    }
}

pub fn response_to_ir(body: &Value) -> CoreResult<ChatResponse> {
    let obj = body.as_object().ok_or_else(|| CoreError::upstream("upstream response is not a JSON object"))?;
    if let Some(error) = obj.get("error").filter(|e| !e.is_null()) {
        return Err(CoreError::upstream(format!("upstream returned an error: {}", error_message(error))));
    }
    let choices = obj
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| CoreError::upstream("upstream response has no 'choices' array"))?;
    let choice = choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64) == Some(0))
        .or_else(|| choices.first())
        .ok_or_else(|| CoreError::upstream("upstream response has no choices"))?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| CoreError::upstream("upstream choice has no 'message' object"))?;

    let mut parts = Vec::new();
    let reasoning = str_field(message, "reasoning_content")
        .filter(|r| !r.is_empty())
        .or_else(|| str_field(message, "reasoning").filter(|r| !r.is_empty()));
    if let Some(text) = reasoning {
        parts.push(reasoning_part(text.to_owned()));
    }
    let content = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // A few providers answer with content parts.
        Some(Value::Array(items)) => items.iter().filter_map(|item| str_field(item, "text")).collect(),
        _ => String::new(),
    };
    for segment in split_all(&content) {
        parts.push(match segment {
            Segment::Reasoning(text) => reasoning_part(text),
            Segment::Text(text) => Part::text(text),
        });
    }
    if let Some(refusal) = str_field(message, "refusal").filter(|r| !r.is_empty()) {
        parts.push(Part::text(refusal));
    }
    let mut called_tools = false;
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (i, call) in calls.iter().enumerate() {
            let Some(function) = call.get("function") else {
                continue;
            };
            let id =
                str_field(call, "id").filter(|id| !id.is_empty()).map_or_else(|| format!("call_{i}"), str::to_owned);
            parts.push(tool_call(id, function));
            called_tools = true;
        }
    }
    if let Some(function) = message.get("function_call").filter(|f| f.is_object()) {
        parts.push(tool_call("call_fn_0".to_owned(), function));
        called_tools = true;
    }

    let (stop_reason, stop_sequence) = finish(choice, called_tools);
    Ok(ChatResponse {
        id: str_field(body, "id").unwrap_or_default().to_owned(),
        model: str_field(body, "model").unwrap_or_default().to_owned(),
        created: body.get("created").and_then(Value::as_u64),
        parts,
        stop_reason,
        stop_sequence,
        usage: body.get("usage").and_then(read_usage),
    })
}

fn reasoning_part(text: String) -> Part {
    Part::Reasoning { text, signature: None, encrypted: None, origin: Some(Dialect::OpenAi) }
}

fn tool_call(id: String, function: &Value) -> Part {
    let arguments = match function.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => "{}".to_owned(),
    };
    Part::ToolCall { id, name: str_field(function, "name").unwrap_or_default().to_owned(), arguments, signature: None }
}

/// Stop reason of a choice. Some providers say `stop` after tool calls: that is a tool stop.
/// vLLM names the matched stop string in `stop_reason`.
pub(super) fn finish(choice: &Value, called_tools: bool) -> (StopReason, Option<String>) {
    let reason = match str_field(choice, "finish_reason") {
        Some(reason) => stop_reason_from_openai(reason),
        None => StopReason::EndTurn,
    };
    match reason {
        StopReason::EndTurn if called_tools => (StopReason::ToolUse, None),
        StopReason::EndTurn => match str_field(choice, "stop_reason") {
            Some(sequence) => (StopReason::StopSequence, Some(sequence.to_owned())),
            None => (StopReason::EndTurn, None),
        },
        other => (other, None),
    }
}

pub fn response_from_ir(response: &ChatResponse, opts: &EncodeOptions) -> Value {
    let created = response.created.unwrap_or(opts.created);
    let id = chat_completion_id(opts.response_id.as_deref().unwrap_or(&response.id), created);
    let model = opts.model.as_deref().unwrap_or(&response.model);

    let mut text: Option<String> = None;
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for part in &response.parts {
        match part {
            Part::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(t),
            Part::Reasoning { text: r, .. } => reasoning.push_str(r),
            Part::ToolCall { id, name, arguments, .. } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    let finish_reason = finish_reason_to_openai(&response.stop_reason, !calls.is_empty());

    let mut message = Map::new();
    message.insert("role".to_owned(), json!("assistant"));
    message.insert("content".to_owned(), json!(text));
    if !reasoning.is_empty() {
        message.insert("reasoning_content".to_owned(), json!(reasoning));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".to_owned(), Value::Array(calls));
    }
    message.insert("refusal".to_owned(), Value::Null);

    let mut body = Map::new();
    body.insert("id".to_owned(), json!(id));
    body.insert("object".to_owned(), json!("chat.completion"));
    body.insert("created".to_owned(), json!(created));
    body.insert("model".to_owned(), json!(model));
    body.insert(
        "choices".to_owned(),
        json!([{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason,
        }]),
    );
    if let Some(usage) = &response.usage {
        body.insert("usage".to_owned(), super::usage_to_json(usage));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;

    const TOOLS: &str = include_str!("../../../../../tests/fixtures/dialects/openai/response_tools.json");
    const THINK: &str = include_str!("../../../../../tests/fixtures/dialects/openai/response_think.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn call(id: &str, name: &str, arguments: &str) -> Part {
        Part::ToolCall { id: id.into(), name: name.into(), arguments: arguments.into(), signature: None }
    }

    #[test]
    fn tool_call_answer_is_read() {
        let r = response_to_ir(&parse(TOOLS)).unwrap();
        assert_eq!(r.id, "chatcmpl-AQ7xk2zV9mT4bR1nD8sLp3YqW6e");
        assert_eq!(r.model, "gpt-4o-2024-08-06");
        assert_eq!(r.created, Some(1_730_900_000));
        assert_eq!(
            r.parts,
            vec![
                call("call_a1B2c3D4", "get_weather", r#"{"city":"Paris","unit":"celsius"}"#),
                call("call_e5F6g7H8", "get_time", r#"{"tz":"Europe/Paris"}"#),
            ]
        );
        assert_eq!(r.stop_reason, StopReason::ToolUse);
        assert_eq!(r.usage, Some(Usage { input_tokens: 82, output_tokens: 51, ..Default::default() }));
    }

    #[test]
    fn think_tags_in_content_become_reasoning() {
        let r = response_to_ir(&parse(THINK)).unwrap();
        assert_eq!(r.parts, vec![reasoning_part("The capital of France is Paris.\n".into()), Part::text("Paris.")]);
        assert_eq!(r.stop_reason, StopReason::EndTurn);
        assert_eq!(r.usage.unwrap().output_tokens, 19);
    }

    #[test]
    fn provider_variants_are_read() {
        let body = json!({
            "id": "gen-1", "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "reasoning": "r", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                "refusal": "nope",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]
            }}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": {"cache_write_tokens": 3}}
        });
        let r = response_to_ir(&body).unwrap();
        assert_eq!(
            r.parts,
            vec![reasoning_part("r".into()), Part::text("ab"), Part::text("nope"), call("call_0", "f", r#"{"x":1}"#)]
        );
        // `stop` after tool calls is a tool stop.
        assert_eq!(r.stop_reason, StopReason::ToolUse);
        assert_eq!(r.usage.unwrap().cache_creation_tokens, 3);

        let vllm = json!({"choices": [{"finish_reason": "stop", "stop_reason": "###", "message": {"content": "x"}}]});
        let r = response_to_ir(&vllm).unwrap();
        assert_eq!((r.stop_reason, r.stop_sequence.as_deref()), (StopReason::StopSequence, Some("###")));
        assert_eq!(r.usage, None);
    }

    #[test]
    fn answer_is_written_as_a_chat_completion() {
        let response = ChatResponse {
            id: "msg_01XYZ".into(),
            model: "claude-sonnet-4-5".into(),
            created: None,
            parts: vec![
                Part::Reasoning {
                    text: "Let me look.".into(),
                    signature: Some("EqQBCkYIBxgC".into()),
                    encrypted: None,
                    origin: Some(Dialect::Anthropic),
                },
                Part::text("Checking "),
                Part::text("now."),
                call("toolu_01", "get_weather", r#"{"city":"Paris"}"#),
            ],
            stop_reason: StopReason::ToolUse,
            stop_sequence: None,
            usage: Some(Usage {
                input_tokens: 120,
                output_tokens: 30,
                cached_tokens: 100,
                cache_creation_tokens: 0,
                reasoning_tokens: 0,
            }),
        };
        let opts =
            EncodeOptions { created: 1_750_000_000, model: Some("cc/claude-sonnet-4-5".into()), ..Default::default() };
        assert_eq!(
            response_from_ir(&response, &opts),
            json!({
                "id": "chatcmpl-msg_01XYZ",
                "object": "chat.completion",
                "created": 1_750_000_000u64,
                "model": "cc/claude-sonnet-4-5",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Checking now.",
                        "reasoning_content": "Let me look.",
                        "tool_calls": [{"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
                        "refusal": null,
                    },
                    "logprobs": null,
                    "finish_reason": "tool_calls",
                }],
                "usage": {
                    "prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                    "prompt_tokens_details": {"cached_tokens": 100},
                    "completion_tokens_details": {"reasoning_tokens": 0},
                },
            })
        );
    }

    #[test]
    fn answers_round_trip_through_the_wire_shape() {
        for fixture in [TOOLS, THINK] {
            let ir = response_to_ir(&parse(fixture)).unwrap();
            let wire = response_from_ir(&ir, &EncodeOptions::default());
            assert_eq!(response_to_ir(&wire).unwrap(), ir);
        }
        let empty = ChatResponse {
            id: String::new(),
            model: "m".into(),
            created: Some(9),
            parts: vec![],
            stop_reason: StopReason::MaxTokens,
            stop_sequence: None,
            usage: None,
        };
        let opts = EncodeOptions { response_id: Some("chatcmpl-given".into()), ..Default::default() };
        let wire = response_from_ir(&empty, &opts);
        assert_eq!(wire["id"], "chatcmpl-given");
        assert_eq!(wire["created"], 9);
        assert_eq!(wire["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(wire["choices"][0]["finish_reason"], "length");
        assert!(wire.get("usage").is_none());
    }

    #[test]
    fn malformed_bodies_are_upstream_errors() {
        for body in [
            json!([]),
            json!({"choices": []}),
            json!({"choices": "x"}),
            json!({"choices": [{"message": null}]}),
            json!({"error": {"message": "overloaded"}}),
            json!({"error": "bad"}),
        ] {
            assert!(matches!(response_to_ir(&body), Err(CoreError::UpstreamProtocol { .. })), "{body}");
        }
        // Odd but tolerable shapes are read, not rejected.
        let odd = json!({"id": 3, "choices": [{"message": {"content": 5, "tool_calls": [{"id": 1}, {"function": {"name": 2}}]}}]});
        let r = response_to_ir(&odd).unwrap();
        assert_eq!(r.parts, vec![call("call_1", "", "{}")]);
    }
}
