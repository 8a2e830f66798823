//! Anthropic Messages requests to the IR (a client body in canonical form).
//!
//! Inbound (`request_to_ir`): `system` (string or text blocks, `cache_control` kept), messages
//! (a user turn holding `tool_result` blocks becomes a `Role::Tool` message followed by a
//! `Role::User` message with the remaining blocks), custom tools (server tools are dropped),
//! `tool_choice`, `thinking`, `output_config` (`effort`, `format`), sampling, `stop_sequences`,
//! `metadata.user_id`, `stream`. Thinking blocks with an empty signature (synthesised by this
//! gateway for a non-Anthropic answer) are kept with no signature and no origin.

use serde_json::{Map, Value};

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::ir::{
    effort_for_budget, fill_tool_result_names, ChatRequest, ImageSource, Message, Part, Reasoning, ResponseFormat,
    Role, Tool, ToolChoice,
};

type Obj = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Field readers: absent and null are the same; a wrong type names the field.

fn wrong_type(path: &str, key: &str, what: &str) -> CoreError {
    let field = join(path, key);
    CoreError::invalid_param(format!("'{field}' must be {what}"), &field)
}

fn required(path: &str, key: &str) -> CoreError {
    let field = join(path, key);
    CoreError::invalid_param(format!("'{field}' is required"), &field)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn present<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_str<'a>(obj: &'a Obj, path: &str, key: &str) -> CoreResult<Option<&'a str>> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(path, key, "a string")),
    }
}

fn req_str<'a>(obj: &'a Obj, path: &str, key: &str) -> CoreResult<&'a str> {
    opt_str(obj, path, key)?.ok_or_else(|| required(path, key))
}

fn opt_u64(obj: &Obj, path: &str, key: &str) -> CoreResult<Option<u64>> {
    match present(obj, key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| wrong_type(path, key, "a non-negative integer")),
    }
}

fn opt_f64(obj: &Obj, path: &str, key: &str) -> CoreResult<Option<f64>> {
    match present(obj, key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| wrong_type(path, key, "a number")),
    }
}

fn opt_bool(obj: &Obj, path: &str, key: &str) -> CoreResult<Option<bool>> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(path, key, "a boolean")),
    }
}

fn opt_obj<'a>(obj: &'a Obj, path: &str, key: &str) -> CoreResult<Option<&'a Obj>> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(wrong_type(path, key, "an object")),
    }
}

fn as_obj<'a>(value: &'a Value, path: &str) -> CoreResult<&'a Obj> {
    value.as_object().ok_or_else(|| CoreError::invalid_param(format!("'{path}' must be an object"), path))
}

fn cache_control(obj: &Obj) -> Option<Value> {
    present(obj, "cache_control").cloned()
}

// ---------------------------------------------------------------------------------------------
// Anthropic body -> IR

/// Parses an Anthropic Messages request body.
pub fn request_to_ir(body: &Value) -> CoreResult<ChatRequest> {
    let obj = body.as_object().ok_or_else(|| CoreError::invalid("request body must be a JSON object"))?;
    let max_tokens = opt_u64(obj, "", "max_tokens")?.ok_or_else(|| required("", "max_tokens"))?;
    let stream = opt_bool(obj, "", "stream")?.unwrap_or(false);
    let mut request = ChatRequest {
        model: opt_str(obj, "", "model")?.map(str::to_owned),
        system: system_to_ir(present(obj, "system"))?,
        messages: messages_to_ir(present(obj, "messages"))?,
        tools: tools_to_ir(present(obj, "tools"))?,
        max_tokens: Some(max_tokens),
        temperature: opt_f64(obj, "", "temperature")?,
        top_p: opt_f64(obj, "", "top_p")?,
        top_k: opt_u64(obj, "", "top_k")?,
        stop: stop_sequences(present(obj, "stop_sequences"))?,
        stream,
        // Anthropic streams always report usage.
        include_usage: stream,
        ..ChatRequest::default()
    };
    if let Some(choice) = opt_obj(obj, "", "tool_choice")? {
        let (choice, parallel) = tool_choice_to_ir(choice)?;
        request.tool_choice = Some(choice);
        request.parallel_tool_calls = parallel;
    }
    let output_config = opt_obj(obj, "", "output_config")?;
    request.reasoning = reasoning_to_ir(opt_obj(obj, "", "thinking")?, output_config)?;
    request.response_format = response_format_to_ir(obj, output_config)?;
    if let Some(metadata) = opt_obj(obj, "", "metadata")? {
        request.user = opt_str(metadata, "metadata", "user_id")?.map(str::to_owned);
    }
    fill_tool_result_names(&mut request.messages);
    Ok(request)
}

fn system_to_ir(system: Option<&Value>) -> CoreResult<Vec<Part>> {
    match system {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::text(s.as_str())]),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                let path = format!("system[{i}]");
                let obj = as_obj(block, &path)?;
                match req_str(obj, &path, "type")? {
                    "text" => parts.push(Part::Text {
                        text: req_str(obj, &path, "text")?.to_owned(),
                        cache_control: cache_control(obj),
                    }),
                    other => {
                        let field = join(&path, "type");
                        return Err(CoreError::invalid_param(
                            format!("'{field}' must be 'text', got '{other}'"),
                            &field,
                        ));
                    }
                }
            }
            Ok(parts)
        }
        Some(_) => Err(wrong_type("", "system", "a string or an array of text blocks")),
    }
}

fn messages_to_ir(messages: Option<&Value>) -> CoreResult<Vec<Message>> {
    let list = match messages {
        None => return Err(required("", "messages")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(wrong_type("", "messages", "an array")),
    };
    let mut out = Vec::with_capacity(list.len() + 2);
    for (i, message) in list.iter().enumerate() {
        let path = format!("messages[{i}]");
        let obj = as_obj(message, &path)?;
        let role = req_str(obj, &path, "role")?;
        let is_user = match role {
            "user" => true,
            "assistant" => false,
            other => {
                let field = join(&path, "role");
                return Err(CoreError::invalid_param(
                    format!("'{field}' must be 'user' or 'assistant', got '{other}'"),
                    &field,
                ));
            }
        };
        let parts = match present(obj, "content") {
            None => return Err(required(&path, "content")),
            Some(Value::String(s)) => vec![Part::text(s.as_str())],
            Some(Value::Array(blocks)) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (j, block) in blocks.iter().enumerate() {
                    let block_path = format!("{path}.content[{j}]");
                    if let Some(part) = block_to_ir(block, &block_path)? {
                        check_role(&part, is_user, &block_path)?;
                        parts.push(part);
                    }
                }
                parts
            }
            Some(_) => return Err(wrong_type(&path, "content", "a string or an array")),
        };
        if !is_user {
            if !parts.is_empty() {
                out.push(Message { role: Role::Assistant, parts });
            }
            continue;
        }
        let (results, rest): (Vec<Part>, Vec<Part>) =
            parts.into_iter().partition(|p| matches!(p, Part::ToolResult { .. }));
        if !results.is_empty() {
            out.push(Message { role: Role::Tool, parts: results });
        }
        if !rest.is_empty() {
            out.push(Message { role: Role::User, parts: rest });
        }
    }
    Ok(out)
}

fn check_role(part: &Part, is_user: bool, path: &str) -> CoreResult<()> {
    let misplaced = match part {
        Part::ToolResult { .. } => !is_user,
        Part::ToolCall { .. } | Part::Reasoning { .. } => is_user,
        _ => false,
    };
    if misplaced {
        let role = if is_user { "user" } else { "assistant" };
        return Err(CoreError::invalid_param(
            format!("'{path}' is a block type not allowed in a {role} message"),
            path,
        ));
    }
    Ok(())
}

/// One content block; `None` for blocks the IR cannot carry (server tool blocks, files,
/// documents without text...).
fn block_to_ir(block: &Value, path: &str) -> CoreResult<Option<Part>> {
    let obj = as_obj(block, path)?;
    let part = match req_str(obj, path, "type")? {
        "text" => Part::Text { text: req_str(obj, path, "text")?.to_owned(), cache_control: cache_control(obj) },
        "image" => match image_to_ir(obj, path)? {
            Some(source) => Part::Image { source, detail: None },
            None => return Ok(None),
        },
        "document" => match document_text(obj, path)? {
            Some(text) => Part::Text { text, cache_control: cache_control(obj) },
            None => return Ok(None),
        },
        "tool_result" => tool_result_to_ir(obj, path)?,
        "tool_use" => {
            let input = present(obj, "input").cloned().unwrap_or_else(|| Value::Object(Map::new()));
            Part::ToolCall {
                id: req_str(obj, path, "id")?.to_owned(),
                name: req_str(obj, path, "name")?.to_owned(),
                arguments: input.to_string(),
                signature: None,
            }
        }
        "thinking" => {
            let signature = opt_str(obj, path, "signature")?.filter(|s| !s.is_empty()).map(str::to_owned);
            Part::Reasoning {
                text: req_str(obj, path, "thinking")?.to_owned(),
                origin: signature.as_ref().map(|_| Dialect::Anthropic),
                signature,
                encrypted: None,
            }
        }
        "redacted_thinking" => Part::Reasoning {
            text: String::new(),
            signature: None,
            encrypted: Some(req_str(obj, path, "data")?.to_owned()),
            origin: Some(Dialect::Anthropic),
        },
        _ => return Ok(None),
    };
    Ok(Some(part))
}

fn image_to_ir(obj: &Obj, path: &str) -> CoreResult<Option<ImageSource>> {
    let source_path = join(path, "source");
    let source = opt_obj(obj, path, "source")?.ok_or_else(|| required(path, "source"))?;
    match req_str(source, &source_path, "type")? {
        "base64" => Ok(Some(ImageSource::Base64 {
            media_type: req_str(source, &source_path, "media_type")?.to_owned(),
            data: req_str(source, &source_path, "data")?.to_owned(),
        })),
        "url" => Ok(Some(ImageSource::Url(req_str(source, &source_path, "url")?.to_owned()))),
        // Files API references mean nothing to another provider.
        _ => Ok(None),
    }
}

/// The text of a document block with a plain-text or content source; PDFs and files give none.
fn document_text(obj: &Obj, path: &str) -> CoreResult<Option<String>> {
    let source_path = join(path, "source");
    let Some(source) = opt_obj(obj, path, "source")? else {
        return Ok(None);
    };
    match opt_str(source, &source_path, "type")? {
        Some("text") => Ok(opt_str(source, &source_path, "data")?.map(str::to_owned)),
        Some("content") => match present(source, "content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(blocks)) => {
                let texts: Vec<&str> = blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect();
                Ok((!texts.is_empty()).then(|| texts.join("\n")))
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

fn tool_result_to_ir(obj: &Obj, path: &str) -> CoreResult<Part> {
    let call_id = req_str(obj, path, "tool_use_id")?.to_owned();
    let mut content = match present(obj, "content") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![Part::text(s.as_str())],
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, block) in blocks.iter().enumerate() {
                let block_path = format!("{path}.content[{k}]");
                if let Some(part @ (Part::Text { .. } | Part::Image { .. })) = block_to_ir(block, &block_path)? {
                    parts.push(part);
                }
            }
            parts
        }
        Some(_) => return Err(wrong_type(path, "content", "a string or an array")),
    };
    // The IR has no cache marker on a tool result: the breakpoint moves to the result's last
    // text (the same prompt position when the result ends in text).
    if let Some(marker) = cache_control(obj) {
        if let Some(Part::Text { cache_control: slot @ None, .. }) = content.last_mut() {
            *slot = Some(marker);
        }
    }
    Ok(Part::ToolResult { call_id, name: None, content, is_error: opt_bool(obj, path, "is_error")?.unwrap_or(false) })
}

fn tools_to_ir(tools: Option<&Value>) -> CoreResult<Vec<Tool>> {
    let list = match tools {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(wrong_type("", "tools", "an array")),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let path = format!("tools[{i}]");
        let obj = as_obj(tool, &path)?;
        // Server tools (web_search_*, bash_*, text_editor_*...) run at Anthropic: no other
        // provider can honour them.
        if !matches!(opt_str(obj, &path, "type")?, None | Some("custom")) {
            continue;
        }
        let parameters = match present(obj, "input_schema") {
            Some(schema @ Value::Object(_)) => schema.clone(),
            Some(_) => return Err(wrong_type(&path, "input_schema", "an object")),
            None => return Err(required(&path, "input_schema")),
        };
        out.push(Tool {
            name: req_str(obj, &path, "name")?.to_owned(),
            description: opt_str(obj, &path, "description")?.map(str::to_owned),
            parameters,
            strict: opt_bool(obj, &path, "strict")?,
            cache_control: cache_control(obj),
        });
    }
    Ok(out)
}

fn tool_choice_to_ir(obj: &Obj) -> CoreResult<(ToolChoice, Option<bool>)> {
    let path = "tool_choice";
    let choice = match req_str(obj, path, "type")? {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Tool(req_str(obj, path, "name")?.to_owned()),
        other => {
            return Err(CoreError::invalid_param(
                format!("'tool_choice.type' must be auto, any, tool or none, got '{other}'"),
                "tool_choice.type",
            ))
        }
    };
    let parallel = match opt_bool(obj, path, "disable_parallel_tool_use")? {
        Some(true) => Some(false),
        _ => None,
    };
    Ok((choice, parallel))
}

fn stop_sequences(value: Option<&Value>) -> CoreResult<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|s| {
                s.as_str().map(str::to_owned).ok_or_else(|| wrong_type("", "stop_sequences", "an array of strings"))
            })
            .collect(),
        Some(_) => Err(wrong_type("", "stop_sequences", "an array of strings")),
    }
}

/// `output_config.effort` on the IR's OpenAI-style scale (`max` is above `xhigh`).
fn output_effort(output_config: Option<&Obj>) -> CoreResult<Option<String>> {
    let Some(config) = output_config else {
        return Ok(None);
    };
    Ok(opt_str(config, "output_config", "effort")?.map(|e| match e {
        "max" => "xhigh".to_owned(),
        other => other.to_owned(),
    }))
}

fn reasoning_to_ir(thinking: Option<&Obj>, output_config: Option<&Obj>) -> CoreResult<Option<Reasoning>> {
    let effort = output_effort(output_config)?;
    let Some(thinking) = thinking else {
        return Ok(effort.map(|effort| Reasoning { effort: Some(effort), ..Reasoning::default() }));
    };
    match req_str(thinking, "thinking", "type")? {
        "enabled" => {
            let budget =
                opt_u64(thinking, "thinking", "budget_tokens")?.ok_or_else(|| required("thinking", "budget_tokens"))?;
            Ok(Some(Reasoning {
                effort: Some(effort_for_budget(budget).to_owned()),
                budget_tokens: Some(budget),
                summary: None,
            }))
        }
        // The model decides how much to think; only the effort (if any) carries over.
        "adaptive" => Ok(Some(Reasoning { effort, ..Reasoning::default() })),
        _ => Ok(None),
    }
}

fn response_format_to_ir(obj: &Obj, output_config: Option<&Obj>) -> CoreResult<Option<ResponseFormat>> {
    // `output_config.format` (GA) or the older beta `output_format`.
    let (format, path) = match output_config.and_then(|c| present(c, "format")) {
        Some(format) => (format, "output_config.format"),
        None => match present(obj, "output_format") {
            Some(format) => (format, "output_format"),
            None => return Ok(None),
        },
    };
    let format = as_obj(format, path)?;
    match req_str(format, path, "type")? {
        "json_schema" => {
            let schema = match present(format, "schema") {
                Some(schema @ Value::Object(_)) => schema.clone(),
                Some(_) => return Err(wrong_type(path, "schema", "an object")),
                None => return Err(required(path, "schema")),
            };
            Ok(Some(ResponseFormat::JsonSchema { name: "output".to_owned(), schema, strict: Some(true) }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
