//! OpenAI Responses (`POST /v1/responses`, the API Codex CLI speaks): conversion between this
//! wire format and the IR, for requests, complete responses and streams.
//!
//! Requests: `instructions` and `system` / `developer` input messages become IR system parts;
//! `input` items become messages (consecutive assistant-side items — reasoning, messages,
//! function calls — merge into one assistant turn, consecutive `function_call_output` items into
//! one tool turn). Only flat function tools are translated; built-in tools are dropped.
//! Responses: see `response.rs`; streams: `decode.rs` and `encode.rs`.

mod decode;
mod encode;
mod response;
#[cfg(test)]
mod tests_request;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_stream;

use serde_json::{json, Map, Value};

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::ir::{
    effort_for_budget, fill_tool_result_names, ChatRequest, ImageSource, Message, Part, Reasoning, ResponseFormat,
    Role, Tool, ToolChoice,
};

pub use decode::StreamDecoder;
pub use encode::StreamEncoder;
pub use response::{response_from_ir, response_to_ir};

/// Include value that makes OpenAI return the opaque reasoning state with `store: false`.
const ENCRYPTED_INCLUDE: &str = "reasoning.encrypted_content";

// ---------------------------------------------------------------------------------------------
// Small typed accessors for client JSON (errors name the field).

fn bad(path: &str, what: &str) -> CoreError {
    CoreError::invalid_param(format!("'{path}' must be {what}"), path)
}

fn opt_str<'a>(obj: &'a Value, key: &str, path: &str) -> CoreResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(path, "a string")),
    }
}

fn req_str<'a>(obj: &'a Value, key: &str, path: &str) -> CoreResult<&'a str> {
    opt_str(obj, key, path)?
        .ok_or_else(|| CoreError::invalid_param(format!("'{path}' is required and must be a string"), path))
}

fn opt_bool(obj: &Value, key: &str) -> CoreResult<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(key, "a boolean")),
    }
}

fn opt_f64(obj: &Value, key: &str) -> CoreResult<Option<f64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| bad(key, "a number")),
    }
}

fn opt_u64(obj: &Value, key: &str) -> CoreResult<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| bad(key, "a non-negative integer")),
    }
}

fn opt_array<'a>(obj: &'a Value, key: &str, path: &str) -> CoreResult<Option<&'a Vec<Value>>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(bad(path, "an array")),
    }
}

/// Splits `data:<media type>;base64,<data>` into a base64 source; anything else is a URL.
fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(media_type) = meta.strip_suffix(";base64") {
                let media_type = if media_type.is_empty() { "application/octet-stream" } else { media_type };
                return ImageSource::Base64 { media_type: media_type.to_owned(), data: data.to_owned() };
            }
        }
    }
    ImageSource::Url(url.to_owned())
}

fn image_url(source: &ImageSource) -> String {
    match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url(url) => url.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Client request -> IR

pub fn request_to_ir(body: &Value) -> CoreResult<ChatRequest> {
    if !body.is_object() {
        return Err(CoreError::invalid("request body must be a JSON object"));
    }
    let mut req = ChatRequest { model: opt_str(body, "model", "model")?.map(str::to_owned), ..Default::default() };
    if let Some(text) = opt_str(body, "instructions", "instructions")? {
        if !text.is_empty() {
            req.system.push(Part::text(text));
        }
    }
    match body.get("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            req.messages.push(Message { role: Role::User, parts: vec![Part::text(text.as_str())] })
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, i, &mut req)?;
            }
        }
        Some(_) => return Err(bad("input", "a string or an array of input items")),
    }
    if let Some(tools) = opt_array(body, "tools", "tools")? {
        for (i, tool) in tools.iter().enumerate() {
            if let Some(tool) = tool_to_ir(tool, i)? {
                req.tools.push(tool);
            }
        }
    }
    req.tool_choice = tool_choice_to_ir(body.get("tool_choice"))?;
    req.parallel_tool_calls = opt_bool(body, "parallel_tool_calls")?;
    req.max_tokens = opt_u64(body, "max_output_tokens")?;
    req.temperature = opt_f64(body, "temperature")?;
    req.top_p = opt_f64(body, "top_p")?;
    req.reasoning = reasoning_to_ir(body.get("reasoning"))?;
    req.response_format = text_format_to_ir(body.get("text"))?;
    req.stream = opt_bool(body, "stream")?.unwrap_or(false);
    // A Responses client always receives usage (in `response.completed`).
    req.include_usage = req.stream;
    req.user = match opt_str(body, "user", "user")? {
        Some(user) => Some(user.to_owned()),
        None => opt_str(body, "safety_identifier", "safety_identifier")?.map(str::to_owned),
    };
    fill_tool_result_names(&mut req.messages);
    Ok(req)
}

/// Appends a part to the last message when it has the same role (assistant and tool turns
/// merge), else starts a new message.
fn push_merged(messages: &mut Vec<Message>, role: Role, part: Part) {
    if let Some(last) = messages.last_mut() {
        if last.role == role {
            last.parts.push(part);
            return;
        }
    }
    messages.push(Message { role, parts: vec![part] });
}

fn input_item(item: &Value, i: usize, req: &mut ChatRequest) -> CoreResult<()> {
    let path = format!("input[{i}]");
    if !item.is_object() {
        return Err(bad(&path, "an object"));
    }
    let kind = opt_str(item, "type", &format!("{path}.type"))?;
    let kind = match kind {
        Some(kind) => kind,
        None if item.get("role").is_some() => "message",
        None => return Ok(()), // an item reference (`{id}`): resolved by the gateway, if at all
    };
    match kind {
        "message" => message_item(item, &path, req),
        "function_call" => {
            let call_id = match opt_str(item, "call_id", &format!("{path}.call_id"))? {
                Some(id) => id,
                None => req_str(item, "id", &format!("{path}.call_id"))?,
            };
            let name = req_str(item, "name", &format!("{path}.name"))?;
            let arguments = match item.get("arguments") {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) => v.to_string(),
                Some(_) => return Err(bad(&format!("{path}.arguments"), "a JSON string")),
            };
            push_merged(
                &mut req.messages,
                Role::Assistant,
                Part::ToolCall { id: call_id.to_owned(), name: name.to_owned(), arguments, signature: None },
            );
            Ok(())
        }
        "function_call_output" => {
            let call_id = req_str(item, "call_id", &format!("{path}.call_id"))?;
            let content = match item.get("output") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => vec![Part::text(s.as_str())],
                Some(Value::Array(parts)) => {
                    let mut out = Vec::new();
                    for (j, part) in parts.iter().enumerate() {
                        if let Some(p) = content_part(part, &format!("{path}.output[{j}]"))? {
                            out.push(p);
                        }
                    }
                    out
                }
                Some(_) => return Err(bad(&format!("{path}.output"), "a string or an array of content parts")),
            };
            let name = opt_str(item, "name", &format!("{path}.name"))?.map(str::to_owned);
            push_merged(
                &mut req.messages,
                Role::Tool,
                Part::ToolResult { call_id: call_id.to_owned(), name, content, is_error: false },
            );
            Ok(())
        }
        "reasoning" => {
            let text = reasoning_text(item, &path, true)?;
            let encrypted =
                opt_str(item, "encrypted_content", &format!("{path}.encrypted_content"))?.map(str::to_owned);
            if text.is_empty() && encrypted.is_none() {
                return Ok(());
            }
            push_merged(
                &mut req.messages,
                Role::Assistant,
                Part::Reasoning { text, signature: None, encrypted, origin: Some(Dialect::Responses) },
            );
            Ok(())
        }
        // item_reference, built-in tool calls and outputs, compaction items...: not translatable.
        _ => Ok(()),
    }
}

/// The visible text of a reasoning item: its summaries joined by blank lines, else its raw
/// `reasoning_text` content. `strict` makes wrong shapes client errors (else they are skipped).
pub(crate) fn reasoning_text(item: &Value, path: &str, strict: bool) -> CoreResult<String> {
    let collect = |key: &str, kind: &str| -> CoreResult<Vec<String>> {
        let mut texts = Vec::new();
        let list = match item.get(key) {
            None | Some(Value::Null) => return Ok(texts),
            Some(Value::Array(list)) => list,
            Some(_) if strict => return Err(bad(&format!("{path}.{key}"), "an array")),
            Some(_) => return Ok(texts),
        };
        for (j, entry) in list.iter().enumerate() {
            let t = entry.get("type").and_then(Value::as_str);
            if t.is_some() && t != Some(kind) {
                continue;
            }
            match entry.get("text") {
                Some(Value::String(s)) => texts.push(s.clone()),
                _ if strict => {
                    return Err(bad(&format!("{path}.{key}[{j}].text"), "a string"));
                }
                _ => {}
            }
        }
        Ok(texts)
    };
    let summaries = collect("summary", "summary_text")?;
    if !summaries.is_empty() {
        return Ok(summaries.join("\n\n"));
    }
    Ok(collect("content", "reasoning_text")?.join("\n\n"))
}

fn message_item(item: &Value, path: &str, req: &mut ChatRequest) -> CoreResult<()> {
    let role = req_str(item, "role", &format!("{path}.role"))?;
    let content_path = format!("{path}.content");
    let parts: Vec<Part> = match item.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![Part::text(s.as_str())],
        Some(Value::Array(list)) => {
            let mut parts = Vec::new();
            for (j, part) in list.iter().enumerate() {
                if let Some(p) = content_part(part, &format!("{content_path}[{j}]"))? {
                    parts.push(p);
                }
            }
            parts
        }
        Some(_) => return Err(bad(&content_path, "a string or an array of content parts")),
    };
    match role {
        "system" | "developer" => {
            // Images have no place in a system prompt in the other dialects.
            req.system.extend(parts.into_iter().filter(|p| matches!(p, Part::Text { .. })));
        }
        "user" => {
            if !parts.is_empty() {
                req.messages.push(Message { role: Role::User, parts });
            }
        }
        "assistant" => {
            for part in parts {
                if matches!(part, Part::Text { .. }) {
                    push_merged(&mut req.messages, Role::Assistant, part);
                }
            }
        }
        other => {
            return Err(CoreError::invalid_param(
                format!("'{path}.role' must be one of user, assistant, system, developer (got '{other}')"),
                &format!("{path}.role"),
            ))
        }
    }
    Ok(())
}

/// One content part of a message or of a function call output. Files, audio and unknown
/// parts are dropped (the IR has no place for them).
fn content_part(part: &Value, path: &str) -> CoreResult<Option<Part>> {
    if !part.is_object() {
        return Err(bad(path, "an object"));
    }
    let kind = req_str(part, "type", &format!("{path}.type"))?;
    Ok(match kind {
        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => {
            Some(Part::text(req_str(part, "text", &format!("{path}.text"))?))
        }
        "refusal" => Some(Part::text(req_str(part, "refusal", &format!("{path}.refusal"))?)),
        "input_image" => {
            let detail = opt_str(part, "detail", &format!("{path}.detail"))?.map(str::to_owned);
            // `file_id` images live in OpenAI's file store: nothing to forward elsewhere.
            opt_str(part, "image_url", &format!("{path}.image_url"))?
                .map(|url| Part::Image { source: image_source(url), detail })
        }
        _ => None,
    })
}

fn tool_to_ir(tool: &Value, i: usize) -> CoreResult<Option<Tool>> {
    let path = format!("tools[{i}]");
    if !tool.is_object() {
        return Err(bad(&path, "an object"));
    }
    if opt_str(tool, "type", &format!("{path}.type"))? != Some("function") {
        return Ok(None); // built-in tools (web_search, file_search, local_shell, custom...)
    }
    // Tolerate the Chat Completions nesting `{type, function: {...}}`.
    let (def, def_path) = match tool.get("function") {
        Some(f) if f.is_object() && tool.get("name").is_none() => (f, format!("{path}.function")),
        _ => (tool, path.clone()),
    };
    let name = req_str(def, "name", &format!("{def_path}.name"))?;
    let description = opt_str(def, "description", &format!("{def_path}.description"))?;
    let parameters = match def.get("parameters") {
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(bad(&format!("{def_path}.parameters"), "a JSON schema object")),
    };
    let strict = match def.get("strict") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad(&format!("{def_path}.strict"), "a boolean")),
    };
    Ok(Some(Tool {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        parameters,
        strict,
        cache_control: None,
    }))
}

fn tool_choice_to_ir(value: Option<&Value>) -> CoreResult<Option<ToolChoice>> {
    let invalid = || {
        CoreError::invalid_param(
            "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\": ...}",
            "tool_choice",
        )
    };
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(invalid()),
        }),
        Some(obj @ Value::Object(_)) => match obj.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = match obj.get("name") {
                    Some(Value::String(n)) => n.clone(),
                    _ => match obj.pointer("/function/name") {
                        Some(Value::String(n)) => n.clone(),
                        _ => return Err(bad("tool_choice.name", "a string")),
                    },
                };
                Some(ToolChoice::Tool(name))
            }
            Some("allowed_tools") => match obj.get("mode").and_then(Value::as_str) {
                Some("required") => Some(ToolChoice::Required),
                _ => Some(ToolChoice::Auto),
            },
            // Built-in tool choices (web_search, file_search, mcp, custom...) have no IR form.
            Some(_) => None,
            None => return Err(invalid()),
        },
        Some(_) => return Err(invalid()),
    })
}

fn reasoning_to_ir(value: Option<&Value>) -> CoreResult<Option<Reasoning>> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(bad("reasoning", "an object")),
    };
    let effort = opt_str(obj, "effort", "reasoning.effort")?.map(str::to_owned);
    let summary = match opt_str(obj, "summary", "reasoning.summary")? {
        Some(s) => Some(s.to_owned()),
        None => opt_str(obj, "generate_summary", "reasoning.generate_summary")?.map(str::to_owned),
    };
    Ok(Some(Reasoning { effort, budget_tokens: None, summary }))
}

fn text_format_to_ir(text: Option<&Value>) -> CoreResult<Option<ResponseFormat>> {
    let text = match text {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(bad("text", "an object")),
    };
    let format = match text.get("format") {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(bad("text.format", "an object")),
    };
    Ok(match req_str(format, "type", "text.format.type")? {
        "text" => Some(ResponseFormat::Text),
        "json_object" => Some(ResponseFormat::JsonObject),
        "json_schema" => {
            let name = opt_str(format, "name", "text.format.name")?.unwrap_or("response");
            let schema = match format.get("schema") {
                Some(v @ Value::Object(_)) => v.clone(),
                _ => return Err(bad("text.format.schema", "a JSON schema object")),
            };
            let strict = match format.get("strict") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(bad("text.format.strict", "a boolean")),
            };
            Some(ResponseFormat::JsonSchema { name: name.to_owned(), schema, strict })
        }
        other => {
            return Err(CoreError::invalid_param(
                format!("'text.format.type' must be text, json_object or json_schema (got '{other}')"),
                "text.format.type",
            ))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// IR -> upstream request

pub fn request_from_ir(request: &ChatRequest, model: &str) -> CoreResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let instructions: Vec<&str> = request
        .system
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions.join("\n\n")));
    }
    let mut input = Vec::new();
    for message in &request.messages {
        message_to_items(message, &mut input);
    }
    body.insert("input".into(), Value::Array(input));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(tool_from_ir).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    // tool_choice and parallel_tool_calls only mean something next to tools (and a named
    // choice for a tool that was not sent is rejected by the API).
    let tool_choice = request.tool_choice.as_ref().filter(|_| !request.tools.is_empty());
    if let Some(choice) = tool_choice {
        let value = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
        };
        body.insert("tool_choice".into(), value);
    }
    if let Some(parallel) = request.parallel_tool_calls.filter(|_| !request.tools.is_empty()) {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(max) = request.max_tokens {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    let mut wants_encrypted = false;
    if let Some(r) = &request.reasoning {
        let effort =
            r.effort.clone().or_else(|| r.budget_tokens.filter(|b| *b > 0).map(|b| effort_for_budget(b).to_owned()));
        if effort.as_deref() == Some("none") {
            body.insert("reasoning".into(), json!({"effort": "none"}));
        } else if effort.is_some() || r.budget_tokens != Some(0) {
            // (A zero thinking budget means "no thinking": leave the model's default.)
            let mut obj = Map::new();
            if let Some(e) = effort {
                obj.insert("effort".into(), json!(e));
            }
            let summary = r.summary.clone().unwrap_or_else(|| "auto".to_owned());
            obj.insert("summary".into(), json!(summary));
            body.insert("reasoning".into(), Value::Object(obj));
            wants_encrypted = true;
        }
    }
    if let Some(format) = &request.response_format {
        let format = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema { name, schema, strict } => {
                let mut f = json!({"type": "json_schema", "name": name, "schema": schema});
                if let (Some(strict), Some(obj)) = (strict, f.as_object_mut()) {
                    obj.insert("strict".into(), json!(strict));
                }
                f
            }
        };
        body.insert("text".into(), json!({ "format": format }));
    }
    body.insert("stream".into(), json!(request.stream));
    body.insert("store".into(), json!(false));
    if wants_encrypted {
        body.insert("include".into(), json!([ENCRYPTED_INCLUDE]));
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    Ok(Value::Object(body))
}

fn tool_from_ir(tool: &Tool) -> Value {
    let parameters =
        if tool.parameters.is_object() { tool.parameters.clone() } else { json!({"type": "object", "properties": {}}) };
    let mut obj = Map::new();
    obj.insert("type".into(), json!("function"));
    obj.insert("name".into(), json!(tool.name));
    if let Some(d) = &tool.description {
        obj.insert("description".into(), json!(d));
    }
    obj.insert("parameters".into(), parameters);
    // Responses treats an absent `strict` as true, which rejects ordinary schemas: say false
    // unless the client asked for strict mode.
    obj.insert("strict".into(), json!(tool.strict.unwrap_or(false)));
    Value::Object(obj)
}

/// Content parts of a pending `message` item, flushed when a non-message item interrupts.
fn flush_message(role: Role, content: &mut Vec<Value>, items: &mut Vec<Value>) {
    if content.is_empty() {
        return;
    }
    let role = match role {
        Role::Assistant => "assistant",
        Role::User | Role::Tool => "user",
    };
    items.push(json!({
        "type": "message",
        "role": role,
        "content": std::mem::take(content),
    }));
}

fn message_to_items(message: &Message, items: &mut Vec<Value>) {
    let role = message.role;
    let mut content: Vec<Value> = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { text, .. } => {
                let kind = if role == Role::Assistant { "output_text" } else { "input_text" };
                content.push(json!({"type": kind, "text": text}));
            }
            Part::Image { source, detail } => {
                // Assistant turns cannot carry input images.
                if role != Role::Assistant {
                    content.push(json!({
                        "type": "input_image",
                        "image_url": image_url(source),
                        "detail": detail.as_deref().unwrap_or("auto"),
                    }));
                }
            }
            Part::ToolCall { id, name, arguments, .. } => {
                flush_message(role, &mut content, items);
                items.push(json!({
                    "type": "function_call",
                    "call_id": id,
                    "name": name,
                    "arguments": response::arguments_or_empty_object(arguments),
                }));
            }
            Part::ToolResult { call_id, content: result, .. } => {
                flush_message(role, &mut content, items);
                items.push(json!({
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": tool_output(result),
                }));
            }
            Part::Reasoning { text, encrypted: Some(data), origin: Some(Dialect::Responses), .. } => {
                flush_message(role, &mut content, items);
                let summary: Vec<Value> =
                    if text.is_empty() { Vec::new() } else { vec![json!({"type": "summary_text", "text": text})] };
                items.push(json!({
                    "type": "reasoning",
                    "summary": summary,
                    "encrypted_content": data,
                }));
            }
            // Reasoning from another provider (or without its opaque state) means nothing here.
            Part::Reasoning { .. } => {}
        }
    }
    flush_message(role, &mut content, items);
}

/// A tool result as `function_call_output.output`: plain text, or a list of parts when the
/// tool returned images.
fn tool_output(content: &[Part]) -> Value {
    let has_image = content.iter().any(|p| matches!(p, Part::Image { .. }));
    if !has_image {
        let texts: Vec<&str> = content
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        return json!(texts.join("\n"));
    }
    let parts: Vec<Value> = content
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(json!({"type": "input_text", "text": text})),
            Part::Image { source, detail } => Some(json!({
                "type": "input_image",
                "image_url": image_url(source),
                "detail": detail.as_deref().unwrap_or("auto"),
            })),
            _ => None,
        })
        .collect();
    Value::Array(parts)
}
