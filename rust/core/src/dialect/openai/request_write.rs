//! Chat Completions request bodies from the IR, for OpenAI and OpenAI-compatible upstreams.
//!
//! One `system` message per system text part (images in a system prompt are dropped); one
//! `tool` message per tool result (tool messages carry text only, so an image in a tool result
//! becomes the placeholder `[image omitted]`); assistant reasoning is not sent (DeepSeek and
//! others reject `reasoning_content` in input); `max_tokens`; usage is always requested when
//! streaming (the gateway records it). Fields OpenAI does not know (`top_k`, cache markers)
//! are left out, and so are `tool_choice` / `parallel_tool_calls` when there are no tools.

use serde_json::{json, Map, Value};

use crate::error::CoreResult;
use crate::ir::{effort_for_budget, ChatRequest, ImageSource, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice};

/// Placeholder for an image inside a tool result (OpenAI tool messages carry text only).
const IMAGE_PLACEHOLDER: &str = "[image omitted]";

pub fn request_from_ir(request: &ChatRequest, model: &str) -> CoreResult<Value> {
    let mut messages = Vec::new();
    // OpenAI system messages carry text only; other system parts are dropped.
    for part in &request.system {
        if let Part::Text { text, .. } = part {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    for message in &request.messages {
        match message.role {
            Role::Assistant => write_assistant(&message.parts, &mut messages),
            Role::User | Role::Tool => write_user_side(&message.parts, &mut messages),
        }
    }

    let mut body = Map::new();
    body.insert("model".to_owned(), json!(model));
    body.insert("messages".to_owned(), Value::Array(messages));
    // OpenAI rejects tool_choice and parallel_tool_calls without tools.
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(write_tool).collect();
        body.insert("tools".to_owned(), Value::Array(tools));
        if let Some(choice) = &request.tool_choice {
            body.insert("tool_choice".to_owned(), write_tool_choice(choice));
        }
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".to_owned(), json!(parallel));
        }
    }
    if let Some(max_tokens) = request.max_tokens {
        // Reasoning models reject `max_tokens`; `max_completion_tokens` is what they read.
        let field = if request.reasoning.as_ref().and_then(reasoning_effort).is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(field.to_owned(), json!(max_tokens));
    }
    for (key, value) in [
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("frequency_penalty", request.frequency_penalty),
        ("presence_penalty", request.presence_penalty),
    ] {
        if let Some(v) = value {
            body.insert(key.to_owned(), json!(v));
        }
    }
    if let Some(seed) = request.seed {
        body.insert("seed".to_owned(), json!(seed));
    }
    if !request.stop.is_empty() {
        body.insert("stop".to_owned(), json!(request.stop));
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".to_owned(), write_response_format(format));
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(reasoning_effort) {
        body.insert("reasoning_effort".to_owned(), json!(effort));
    }
    if request.stream {
        body.insert("stream".to_owned(), json!(true));
        body.insert("stream_options".to_owned(), json!({"include_usage": true}));
    }
    if let Some(user) = &request.user {
        body.insert("user".to_owned(), json!(user));
    }
    Ok(Value::Object(body))
}

/// The effort to send: the explicit one, else the one matching the budget (a zero budget
/// means thinking off, which has no portable effort: nothing is sent).
fn reasoning_effort(reasoning: &Reasoning) -> Option<String> {
    match (&reasoning.effort, reasoning.budget_tokens) {
        (Some(effort), _) => Some(effort.clone()),
        (None, Some(budget)) if budget > 0 => Some(effort_for_budget(budget).to_owned()),
        _ => None,
    }
}

fn image_url(source: &ImageSource, detail: Option<&String>) -> Value {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url(url) => url.clone(),
    };
    let mut image = Map::new();
    image.insert("url".to_owned(), json!(url));
    if let Some(detail) = detail {
        image.insert("detail".to_owned(), json!(detail));
    }
    json!({"type": "image_url", "image_url": image})
}

/// User turns and tool turns: tool results become `tool` messages, text and images a `user`
/// message, in the order they come.
fn write_user_side(parts: &[Part], messages: &mut Vec<Value>) {
    let mut pending: Vec<&Part> = Vec::new();
    for part in parts {
        match part {
            Part::Text { .. } | Part::Image { .. } => pending.push(part),
            Part::ToolResult { call_id, content, .. } => {
                flush_user(&mut pending, messages);
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": tool_result_text(content),
                }));
            }
            Part::ToolCall { .. } | Part::Reasoning { .. } => {}
        }
    }
    flush_user(&mut pending, messages);
}

fn flush_user(pending: &mut Vec<&Part>, messages: &mut Vec<Value>) {
    let content = match pending.as_slice() {
        [] => return,
        [Part::Text { text, .. }] => json!(text),
        parts => Value::Array(
            parts
                .iter()
                .filter_map(|part| match part {
                    Part::Text { text, .. } => Some(json!({"type": "text", "text": text})),
                    Part::Image { source, detail } => Some(image_url(source, detail.as_ref())),
                    _ => None,
                })
                .collect(),
        ),
    };
    pending.clear();
    messages.push(json!({"role": "user", "content": content}));
}

fn tool_result_text(content: &[Part]) -> String {
    let pieces: Vec<&str> = content
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, .. } => Some(text.as_str()),
            Part::Image { .. } => Some(IMAGE_PLACEHOLDER),
            _ => None,
        })
        .collect();
    pieces.join("\n")
}

/// Assistant turns: text joined, tool calls as `tool_calls`, reasoning and images dropped.
/// A tool result misplaced in an assistant turn still becomes a `tool` message after it.
fn write_assistant(parts: &[Part], messages: &mut Vec<Value>) {
    let mut text = String::new();
    let mut has_text = false;
    let mut calls = Vec::new();
    let mut results = Vec::new();
    for part in parts {
        match part {
            Part::Text { text: t, .. } => {
                text.push_str(t);
                has_text = true;
            }
            Part::ToolCall { id, name, arguments, .. } => {
                let arguments = if arguments.trim().is_empty() { "{}" } else { arguments };
                calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }));
            }
            Part::ToolResult { .. } => results.push(part.clone()),
            Part::Image { .. } | Part::Reasoning { .. } => {}
        }
    }
    if has_text || !calls.is_empty() {
        let mut message = Map::new();
        message.insert("role".to_owned(), json!("assistant"));
        message.insert("content".to_owned(), if has_text { json!(text) } else { Value::Null });
        if !calls.is_empty() {
            message.insert("tool_calls".to_owned(), Value::Array(calls));
        }
        messages.push(Value::Object(message));
    }
    write_user_side(&results, messages);
}

fn write_tool(tool: &Tool) -> Value {
    let mut function = Map::new();
    function.insert("name".to_owned(), json!(tool.name));
    if let Some(description) = &tool.description {
        function.insert("description".to_owned(), json!(description));
    }
    function.insert("parameters".to_owned(), tool.parameters.clone());
    if let Some(strict) = tool.strict {
        function.insert("strict".to_owned(), json!(strict));
    }
    json!({"type": "function", "function": function})
}

fn write_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

fn write_response_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let mut spec = Map::new();
            spec.insert("name".to_owned(), json!(name));
            spec.insert("schema".to_owned(), schema.clone());
            if let Some(strict) = strict {
                spec.insert("strict".to_owned(), json!(strict));
            }
            json!({"type": "json_schema", "json_schema": spec})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::openai::request::request_to_ir;
    use crate::dialect::Dialect;
    use crate::ir::Message;

    const FULL: &str = include_str!("../../../../../tests/fixtures/dialects/openai/request_full.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn to_ir(body: Value) -> ChatRequest {
        request_to_ir(&body).unwrap()
    }

    #[test]
    fn full_request_survives_a_round_trip() {
        let req = to_ir(parse(FULL));
        let body = request_from_ir(&req, "gpt-4o").unwrap();
        let mut again = to_ir(body.clone());
        assert_eq!(again.model.as_deref(), Some("gpt-4o"));
        again.model = req.model.clone();
        assert_eq!(again, req);
        // And the written body is stable.
        assert_eq!(request_from_ir(&again, "gpt-4o").unwrap(), body);
    }

    #[test]
    fn written_body_has_the_openai_shape() {
        let body = request_from_ir(&to_ir(parse(FULL)), "gpt-4o").unwrap();
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[0], json!({"role": "system", "content": "You are a travel assistant."}));
        assert_eq!(messages[1], json!({"role": "system", "content": "Answer in English."}));
        assert_eq!(
            messages[2]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}})
        );
        assert_eq!(messages[3]["tool_calls"][1]["function"]["name"], "get_time");
        assert_eq!(messages[4], json!({"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"}));
        assert_eq!(messages[5]["content"], "14:05");
        assert_eq!(body["max_completion_tokens"], 1024, "reasoning is on, so the reasoning-model field is used");
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["reasoning_effort"], "medium");
        assert_eq!(body["response_format"]["json_schema"]["name"], "answer");
        assert_eq!(body["tool_choice"], "auto");
    }

    #[test]
    fn foreign_ir_is_written_for_openai_compatible_upstreams() {
        let req = ChatRequest {
            system: vec![Part::text("a"), Part::text("b")],
            messages: vec![
                Message { role: Role::User, parts: vec![Part::text("hi")] },
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Reasoning {
                            text: "thinking".into(),
                            signature: Some("sig".into()),
                            encrypted: None,
                            origin: Some(Dialect::Anthropic),
                        },
                        Part::ToolCall {
                            id: "toolu_1".into(),
                            name: "shot".into(),
                            arguments: String::new(),
                            signature: None,
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::ToolResult {
                            call_id: "toolu_1".into(),
                            name: None,
                            content: vec![
                                Part::text("took it"),
                                Part::Image { source: ImageSource::Url("https://x/y.png".into()), detail: None },
                            ],
                            is_error: true,
                        },
                        Part::text("what do you see?"),
                    ],
                },
            ],
            reasoning: Some(Reasoning { budget_tokens: Some(10_000), ..Default::default() }),
            tool_choice: Some(ToolChoice::Required),
            parallel_tool_calls: Some(false),
            top_k: Some(40),
            ..Default::default()
        };
        let body = request_from_ir(&req, "deepseek-chat").unwrap();
        assert_eq!(
            body,
            json!({
                "model": "deepseek-chat",
                "messages": [
                    {"role": "system", "content": "a"},
                    {"role": "system", "content": "b"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "took it\n[image omitted]"},
                    {"role": "user", "content": "what do you see?"},
                ],
                "reasoning_effort": "medium",
            })
        );
    }

    #[test]
    fn reasoning_only_assistant_turn_is_dropped_and_budget_zero_sends_no_effort() {
        let req = ChatRequest {
            messages: vec![Message {
                role: Role::Assistant,
                parts: vec![Part::Reasoning {
                    text: "hmm".into(),
                    signature: None,
                    encrypted: None,
                    origin: Some(Dialect::OpenAi),
                }],
            }],
            reasoning: Some(Reasoning { budget_tokens: Some(0), ..Default::default() }),
            ..Default::default()
        };
        let body = request_from_ir(&req, "m").unwrap();
        assert_eq!(body, json!({"model": "m", "messages": []}));
    }

    #[test]
    fn stream_fields_only_when_streaming_and_tool_fields_only_with_tools() {
        let req =
            to_ir(json!({"messages": [], "stream": false, "tool_choice": "required", "parallel_tool_calls": false}));
        let body = request_from_ir(&req, "m").unwrap();
        assert_eq!(body, json!({"model": "m", "messages": []}));
        let req = to_ir(json!({"messages": [], "stream": true}));
        assert_eq!(request_from_ir(&req, "m").unwrap()["stream_options"], json!({"include_usage": true}));
    }
}
