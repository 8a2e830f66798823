//! Chat Completions request bodies to the IR.
//!
//! Validates shapes (a wrong type names the field) and ignores unknown fields. Legacy
//! `functions` / `function_call` / `function`-role messages become tools, tool calls and tool
//! results; their missing call ids are derived from message positions. Content the IR cannot
//! carry (audio, files) is rejected rather than silently dropped; tools other than functions
//! are dropped.

use serde_json::{json, Map, Value};

use crate::error::{CoreError, CoreResult};
use crate::ir::{
    fill_tool_result_names, ChatRequest, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};

type Object = Map<String, Value>;

fn invalid(message: impl Into<String>, field: &str) -> CoreError {
    CoreError::invalid_param(message, field)
}

/// A field that is present and not null.
fn field<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_str<'a>(obj: &'a Object, key: &str, path: &str) -> CoreResult<Option<&'a str>> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| invalid(format!("'{path}' must be a string"), path)),
    }
}

fn opt_f64(obj: &Object, key: &str) -> CoreResult<Option<f64>> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| invalid(format!("'{key}' must be a number"), key)),
    }
}

fn opt_u64(obj: &Object, key: &str) -> CoreResult<Option<u64>> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| invalid(format!("'{key}' must be a non-negative integer"), key)),
    }
}

fn opt_bool(obj: &Object, key: &str, path: &str) -> CoreResult<Option<bool>> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| invalid(format!("'{path}' must be a boolean"), path)),
    }
}

fn as_object<'a>(value: &'a Value, path: &str) -> CoreResult<&'a Object> {
    value.as_object().ok_or_else(|| invalid(format!("'{path}' must be an object"), path))
}

fn as_array<'a>(value: &'a Value, path: &str) -> CoreResult<&'a Vec<Value>> {
    value.as_array().ok_or_else(|| invalid(format!("'{path}' must be an array"), path))
}

/// Call ids for legacy `function_call`s, which have none: each call gets one from its
/// message's position, and the next `function` message of that name answers it.
#[derive(Default)]
struct LegacyCalls {
    pending: Vec<(String, String)>,
}

impl LegacyCalls {
    fn call(&mut self, name: &str, message_index: usize) -> String {
        let id = format!("call_fn_{message_index}");
        self.pending.push((name.to_owned(), id.clone()));
        id
    }

    fn answer(&mut self, name: &str, message_index: usize) -> String {
        match self.pending.iter().rposition(|(n, _)| n == name) {
            Some(pos) => self.pending.remove(pos).1,
            None => format!("call_fn_{message_index}"),
        }
    }
}

pub fn request_to_ir(body: &Value) -> CoreResult<ChatRequest> {
    let obj = body.as_object().ok_or_else(|| CoreError::invalid("request body must be a JSON object"))?;
    let mut req = ChatRequest { model: opt_str(obj, "model", "model")?.map(str::to_owned), ..Default::default() };

    let messages = field(obj, "messages").ok_or_else(|| invalid("'messages' is required", "messages"))?;
    let mut legacy = LegacyCalls::default();
    for (i, message) in as_array(messages, "messages")?.iter().enumerate() {
        read_message(message, i, &mut req, &mut legacy)?;
    }

    if let Some(tools) = field(obj, "tools") {
        for (i, tool) in as_array(tools, "tools")?.iter().enumerate() {
            let path = format!("tools[{i}]");
            let tool = as_object(tool, &path)?;
            // Only function tools translate; custom / built-in tool types are dropped.
            if tool.get("type").and_then(Value::as_str).unwrap_or("function") == "function" {
                let function =
                    field(tool, "function").ok_or_else(|| invalid(format!("'{path}.function' is required"), &path))?;
                req.tools.push(read_function(function, &format!("{path}.function"))?);
            }
        }
    }
    if let Some(functions) = field(obj, "functions") {
        for (i, function) in as_array(functions, "functions")?.iter().enumerate() {
            req.tools.push(read_function(function, &format!("functions[{i}]"))?);
        }
    }
    req.tool_choice = match (field(obj, "tool_choice"), field(obj, "function_call")) {
        (Some(choice), _) => Some(read_tool_choice(choice, "tool_choice")?),
        (None, Some(choice)) => Some(read_tool_choice(choice, "function_call")?),
        (None, None) => None,
    };
    req.parallel_tool_calls = opt_bool(obj, "parallel_tool_calls", "parallel_tool_calls")?;

    req.max_tokens = match opt_u64(obj, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => opt_u64(obj, "max_tokens")?,
    };
    req.temperature = opt_f64(obj, "temperature")?;
    req.top_p = opt_f64(obj, "top_p")?;
    req.frequency_penalty = opt_f64(obj, "frequency_penalty")?;
    req.presence_penalty = opt_f64(obj, "presence_penalty")?;
    req.seed = match field(obj, "seed") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| invalid("'seed' must be an integer", "seed"))?),
    };
    req.stop = match field(obj, "stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("'stop' must be a string or an array of strings", "stop"))?,
        Some(_) => return Err(invalid("'stop' must be a string or an array of strings", "stop")),
    };
    if let Some(format) = field(obj, "response_format") {
        req.response_format = Some(read_response_format(format)?);
    }
    req.reasoning = read_reasoning(obj)?;
    req.stream = opt_bool(obj, "stream", "stream")?.unwrap_or(false);
    if let Some(options) = field(obj, "stream_options") {
        let options = as_object(options, "stream_options")?;
        req.include_usage = opt_bool(options, "include_usage", "stream_options.include_usage")?.unwrap_or(false);
    }
    req.user = opt_str(obj, "user", "user")?.map(str::to_owned);

    fill_tool_result_names(&mut req.messages);
    Ok(req)
}

fn read_message(value: &Value, index: usize, req: &mut ChatRequest, legacy: &mut LegacyCalls) -> CoreResult<()> {
    let path = format!("messages[{index}]");
    let obj = as_object(value, &path)?;
    let role_path = format!("{path}.role");
    let role =
        opt_str(obj, "role", &role_path)?.ok_or_else(|| invalid(format!("'{role_path}' is required"), &role_path))?;
    let content_path = format!("{path}.content");
    match role {
        "system" | "developer" => {
            req.system.extend(read_content(field(obj, "content"), &content_path)?);
        }
        "user" => {
            let parts = read_content(field(obj, "content"), &content_path)?;
            if !parts.is_empty() {
                req.messages.push(Message { role: Role::User, parts });
            }
        }
        "assistant" => {
            let parts = read_assistant(obj, index, &path, legacy)?;
            if !parts.is_empty() {
                req.messages.push(Message { role: Role::Assistant, parts });
            }
        }
        "tool" => {
            let id_path = format!("{path}.tool_call_id");
            let call_id = opt_str(obj, "tool_call_id", &id_path)?
                .ok_or_else(|| invalid(format!("'{id_path}' is required"), &id_path))?;
            let content = read_content(field(obj, "content"), &content_path)?;
            push_tool_result(&mut req.messages, call_id.to_owned(), None, content);
        }
        "function" => {
            let name_path = format!("{path}.name");
            let name = opt_str(obj, "name", &name_path)?
                .ok_or_else(|| invalid(format!("'{name_path}' is required"), &name_path))?;
            let content = read_content(field(obj, "content"), &content_path)?;
            let call_id = legacy.answer(name, index);
            push_tool_result(&mut req.messages, call_id, Some(name.to_owned()), content);
        }
        other => {
            return Err(invalid(
                format!(
                    "'{role_path}' must be one of system, developer, user, assistant, tool, function (got '{other}')"
                ),
                &role_path,
            ))
        }
    }
    Ok(())
}

/// Consecutive tool messages answer one assistant turn: they share one IR message.
fn push_tool_result(messages: &mut Vec<Message>, call_id: String, name: Option<String>, content: Vec<Part>) {
    let part = Part::ToolResult { call_id, name, content, is_error: false };
    match messages.last_mut() {
        Some(last) if last.role == Role::Tool => last.parts.push(part),
        _ => messages.push(Message { role: Role::Tool, parts: vec![part] }),
    }
}

fn read_assistant(obj: &Object, index: usize, path: &str, legacy: &mut LegacyCalls) -> CoreResult<Vec<Part>> {
    let mut parts = Vec::new();
    let reasoning = match opt_str(obj, "reasoning_content", &format!("{path}.reasoning_content"))? {
        Some(text) => Some(text),
        // OpenRouter's name for the same thing.
        None => field(obj, "reasoning").and_then(Value::as_str),
    };
    if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
        parts.push(Part::Reasoning {
            text: text.to_owned(),
            signature: None,
            encrypted: None,
            origin: Some(crate::dialect::Dialect::OpenAi),
        });
    }
    let content = read_content(field(obj, "content"), &format!("{path}.content"))?;
    parts.extend(content.into_iter().filter(|p| !matches!(p, Part::Text { text, .. } if text.is_empty())));
    if let Some(refusal) = opt_str(obj, "refusal", &format!("{path}.refusal"))? {
        if !refusal.is_empty() {
            parts.push(Part::text(refusal));
        }
    }
    if let Some(calls) = field(obj, "tool_calls") {
        let calls_path = format!("{path}.tool_calls");
        for (i, call) in as_array(calls, &calls_path)?.iter().enumerate() {
            parts.push(read_tool_call(call, &format!("{calls_path}[{i}]"))?);
        }
    }
    if let Some(call) = field(obj, "function_call") {
        let call_path = format!("{path}.function_call");
        let (name, arguments) = read_function_call(call, &call_path)?;
        let id = legacy.call(&name, index);
        parts.push(Part::ToolCall { id, name, arguments, signature: None });
    }
    Ok(parts)
}

fn read_tool_call(value: &Value, path: &str) -> CoreResult<Part> {
    let obj = as_object(value, path)?;
    let kind = opt_str(obj, "type", &format!("{path}.type"))?.unwrap_or("function");
    if kind != "function" {
        return Err(invalid(
            format!("'{path}.type' '{kind}' cannot be translated (only function tool calls can)"),
            &format!("{path}.type"),
        ));
    }
    let id_path = format!("{path}.id");
    let id = opt_str(obj, "id", &id_path)?.ok_or_else(|| invalid(format!("'{id_path}' is required"), &id_path))?;
    let function_path = format!("{path}.function");
    let function =
        field(obj, "function").ok_or_else(|| invalid(format!("'{function_path}' is required"), &function_path))?;
    let (name, arguments) = read_function_call(function, &function_path)?;
    Ok(Part::ToolCall { id: id.to_owned(), name, arguments, signature: None })
}

/// `{name, arguments}` of a tool call; arguments given as an object are serialised.
fn read_function_call(value: &Value, path: &str) -> CoreResult<(String, String)> {
    let obj = as_object(value, path)?;
    let name_path = format!("{path}.name");
    let name =
        opt_str(obj, "name", &name_path)?.ok_or_else(|| invalid(format!("'{name_path}' is required"), &name_path))?;
    let arguments = match field(obj, "arguments") {
        None => "{}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other @ Value::Object(_)) => other.to_string(),
        Some(_) => {
            let args_path = format!("{path}.arguments");
            return Err(invalid(format!("'{args_path}' must be a JSON string"), &args_path));
        }
    };
    Ok((name.to_owned(), arguments))
}

/// Message content: a string, an array of parts, or null.
fn read_content(value: Option<&Value>, path: &str) -> CoreResult<Vec<Part>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![Part::text(text.as_str())]),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, item)| read_part(item, &format!("{path}[{i}]"))).collect()
        }
        Some(_) => Err(invalid(format!("'{path}' must be a string or an array of content parts"), path)),
    }
}

fn read_part(value: &Value, path: &str) -> CoreResult<Part> {
    let obj = as_object(value, path)?;
    let type_path = format!("{path}.type");
    let kind =
        opt_str(obj, "type", &type_path)?.ok_or_else(|| invalid(format!("'{type_path}' is required"), &type_path))?;
    match kind {
        "text" | "refusal" => {
            let text_path = format!("{path}.{kind}");
            let text = opt_str(obj, kind, &text_path)?
                .ok_or_else(|| invalid(format!("'{text_path}' is required"), &text_path))?;
            Ok(Part::text(text))
        }
        "image_url" => {
            let image_path = format!("{path}.image_url");
            let (url, detail) = match field(obj, "image_url") {
                Some(Value::String(url)) => (url.as_str(), None),
                Some(Value::Object(image)) => {
                    let url_path = format!("{image_path}.url");
                    let url = opt_str(image, "url", &url_path)?
                        .ok_or_else(|| invalid(format!("'{url_path}' is required"), &url_path))?;
                    let detail = opt_str(image, "detail", &format!("{image_path}.detail"))?;
                    (url, detail)
                }
                _ => return Err(invalid(format!("'{image_path}' must be an object with a 'url'"), &image_path)),
            };
            Ok(Part::Image {
                source: image_source(url, &format!("{image_path}.url"))?,
                detail: detail.map(str::to_owned),
            })
        }
        other => Err(invalid(
            format!("content part type '{other}' cannot be translated to another provider format"),
            &type_path,
        )),
    }
}

/// `data:<media type>;base64,<data>` becomes inline data; any other URL stays a URL.
fn image_source(url: &str, path: &str) -> CoreResult<ImageSource> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url(url.to_owned()));
    };
    let bad = || invalid(format!("'{path}' must be a base64 data URL (data:<media type>;base64,<data>)"), path);
    let (meta, data) = rest.split_once(',').ok_or_else(bad)?;
    let media_type = meta.strip_suffix(";base64").ok_or_else(bad)?;
    let media_type = media_type.split(';').next().unwrap_or_default();
    if media_type.is_empty() {
        return Err(bad());
    }
    Ok(ImageSource::Base64 { media_type: media_type.to_owned(), data: data.to_owned() })
}

fn read_function(value: &Value, path: &str) -> CoreResult<Tool> {
    let obj = as_object(value, path)?;
    let name_path = format!("{path}.name");
    let name =
        opt_str(obj, "name", &name_path)?.ok_or_else(|| invalid(format!("'{name_path}' is required"), &name_path))?;
    let parameters = match field(obj, "parameters") {
        None => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => {
            let p = format!("{path}.parameters");
            return Err(invalid(format!("'{p}' must be a JSON Schema object"), &p));
        }
    };
    Ok(Tool {
        name: name.to_owned(),
        description: opt_str(obj, "description", &format!("{path}.description"))?.map(str::to_owned),
        parameters,
        strict: opt_bool(obj, "strict", &format!("{path}.strict"))?,
        cache_control: None,
    })
}

/// `tool_choice` (or legacy `function_call`): a mode string or a named function.
fn read_tool_choice(value: &Value, key: &str) -> CoreResult<ToolChoice> {
    let bad = || invalid(format!("'{key}' must be \"auto\", \"none\", \"required\" or a named function"), key);
    match value {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Value::Object(obj) => {
            // Legacy `function_call: {"name": ...}`.
            if let Some(name) = obj.get("name").and_then(Value::as_str) {
                return Ok(ToolChoice::Tool(name.to_owned()));
            }
            match obj.get("type").and_then(Value::as_str) {
                Some("function") => obj
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .map(|name| ToolChoice::Tool(name.to_owned()))
                    .ok_or_else(bad),
                // A restriction to a subset of tools keeps only its mode.
                Some("allowed_tools") => {
                    let mode = value.pointer("/allowed_tools/mode").and_then(Value::as_str);
                    Ok(if mode == Some("required") { ToolChoice::Required } else { ToolChoice::Auto })
                }
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

fn read_response_format(value: &Value) -> CoreResult<ResponseFormat> {
    let key = "response_format";
    let obj = as_object(value, key)?;
    match obj.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let spec = field(obj, "json_schema")
                .ok_or_else(|| invalid("'response_format.json_schema' is required", "response_format.json_schema"))?;
            let spec = as_object(spec, "response_format.json_schema")?;
            Ok(ResponseFormat::JsonSchema {
                name: opt_str(spec, "name", "response_format.json_schema.name")?.unwrap_or("response").to_owned(),
                schema: field(spec, "schema").cloned().unwrap_or_else(|| json!({})),
                strict: opt_bool(spec, "strict", "response_format.json_schema.strict")?,
            })
        }
        _ => Err(invalid("'response_format.type' must be text, json_object or json_schema", "response_format.type")),
    }
}

/// `reasoning_effort`, or OpenRouter's `reasoning: {effort, max_tokens}`.
fn read_reasoning(obj: &Object) -> CoreResult<Option<Reasoning>> {
    if let Some(effort) = opt_str(obj, "reasoning_effort", "reasoning_effort")? {
        return Ok(Some(Reasoning { effort: Some(effort.to_owned()), ..Default::default() }));
    }
    let Some(Value::Object(reasoning)) = field(obj, "reasoning") else {
        return Ok(None);
    };
    let effort = opt_str(reasoning, "effort", "reasoning.effort")?.map(str::to_owned);
    let budget_tokens =
        match field(reasoning, "max_tokens") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                invalid("'reasoning.max_tokens' must be a non-negative integer", "reasoning.max_tokens")
            })?),
        };
    Ok((effort.is_some() || budget_tokens.is_some()).then_some(Reasoning { effort, budget_tokens, summary: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;

    const FULL: &str = include_str!("../../../../../tests/fixtures/dialects/openai/request_full.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn to_ir(body: Value) -> ChatRequest {
        request_to_ir(&body).unwrap()
    }

    fn param_of(body: Value) -> Option<String> {
        match request_to_ir(&body) {
            Err(CoreError::InvalidRequest { param, .. }) => param,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn full_request_reads_every_field() {
        let req = to_ir(parse(FULL));
        assert_eq!(req.model.as_deref(), Some("openai/gpt-4o"));
        assert_eq!(req.system, vec![Part::text("You are a travel assistant."), Part::text("Answer in English.")]);
        assert_eq!(req.messages.len(), 4);
        assert_eq!(
            req.messages[0].parts[1],
            Part::Image {
                source: ImageSource::Base64 { media_type: "image/png".into(), data: "iVBORw0KGgo=".into() },
                detail: Some("high".into()),
            }
        );
        assert_eq!(
            req.messages[0].parts[2],
            Part::Image { source: ImageSource::Url("https://example.com/eiffel.jpg".into()), detail: None }
        );
        let assistant = &req.messages[1];
        assert_eq!(assistant.role, Role::Assistant);
        assert_eq!(assistant.parts.len(), 3);
        // Both tool messages share one tool turn, names filled from the calls.
        let tool = &req.messages[2];
        assert_eq!(tool.role, Role::Tool);
        assert_eq!(
            tool.parts,
            vec![
                Part::ToolResult {
                    call_id: "call_1".into(),
                    name: Some("get_weather".into()),
                    content: vec![Part::text("18C, cloudy")],
                    is_error: false
                },
                Part::ToolResult {
                    call_id: "call_2".into(),
                    name: Some("get_time".into()),
                    content: vec![Part::text("14:05")],
                    is_error: false
                },
            ]
        );
        assert_eq!(req.messages[3].role, Role::User);
        // The custom tool is dropped.
        assert_eq!(req.tools.len(), 2);
        assert_eq!(req.tools[0].strict, Some(true));
        assert_eq!(req.tools[1].description, None);
        assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(req.parallel_tool_calls, Some(true));
        assert_eq!(req.max_tokens, Some(1024));
        assert_eq!((req.temperature, req.top_p), (Some(0.2), Some(0.9)));
        assert_eq!(req.stop, vec!["\n\nUser:".to_owned()]);
        assert_eq!(req.seed, Some(42));
        assert_eq!((req.frequency_penalty, req.presence_penalty), (Some(0.1), Some(-0.5)));
        assert!(matches!(
            &req.response_format,
            Some(ResponseFormat::JsonSchema { name, strict: Some(true), .. }) if name == "answer"
        ));
        assert_eq!(req.reasoning.as_ref().and_then(|r| r.effort.as_deref()), Some("medium"));
        assert!(req.stream && req.include_usage);
        assert_eq!(req.user.as_deref(), Some("user-1234"));
    }

    #[test]
    fn assistant_reasoning_and_refusal_are_read() {
        let req = to_ir(json!({"messages": [
            {"role": "assistant", "content": "", "reasoning_content": "because", "refusal": "no"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "still no"}]},
            {"role": "assistant", "content": null},
            {"role": "user", "content": null},
        ]}));
        assert_eq!(req.messages.len(), 2);
        assert_eq!(
            req.messages[0].parts,
            vec![
                Part::Reasoning {
                    text: "because".into(),
                    signature: None,
                    encrypted: None,
                    origin: Some(Dialect::OpenAi)
                },
                Part::text("no"),
            ]
        );
        assert_eq!(req.messages[1].parts, vec![Part::text("still no")]);
    }

    #[test]
    fn legacy_functions_become_tools_calls_and_results() {
        let req = to_ir(json!({
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"role": "function", "name": "get_weather", "content": "-3C"},
            ],
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "function_call": {"name": "get_weather"},
        }));
        assert_eq!(req.tools[0].name, "get_weather");
        assert_eq!(req.tool_choice, Some(ToolChoice::Tool("get_weather".into())));
        let Part::ToolCall { id, .. } = &req.messages[1].parts[0] else { panic!() };
        assert!(matches!(
            &req.messages[2].parts[0],
            Part::ToolResult { call_id, name: Some(n), .. } if call_id == id && n == "get_weather"
        ));
    }

    #[test]
    fn choices_formats_and_limits_have_their_variants() {
        let req = to_ir(json!({
            "messages": [],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "max_tokens": 77,
            "stop": "END",
            "response_format": {"type": "json_object"},
            "reasoning": {"max_tokens": 2000},
        }));
        assert_eq!(req.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert_eq!(req.tools[0].parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(req.max_tokens, Some(77));
        assert_eq!(req.stop, vec!["END".to_owned()]);
        assert_eq!(req.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(req.reasoning.unwrap().budget_tokens, Some(2000));
        for (choice, expected) in [
            (json!("none"), ToolChoice::None),
            (json!("required"), ToolChoice::Required),
            (
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}}),
                ToolChoice::Required,
            ),
        ] {
            let req = to_ir(json!({"messages": [], "tool_choice": choice}));
            assert_eq!(req.tool_choice, Some(expected));
        }
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let cases = [
            (json!({}), "messages"),
            (json!({"messages": {}}), "messages"),
            (json!({"messages": [1]}), "messages[0]"),
            (json!({"messages": [{"content": "x"}]}), "messages[0].role"),
            (json!({"messages": [{"role": "robot"}]}), "messages[0].role"),
            (json!({"messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]}),
                "messages[0].content[0].image_url.url",
            ),
            (json!({"messages": [{"role": "tool", "content": "x"}]}), "messages[0].tool_call_id"),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]}]}),
                "messages[0].tool_calls[0].type",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 3}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (json!({"messages": [], "temperature": "hot"}), "temperature"),
            (json!({"messages": [], "max_tokens": -1}), "max_tokens"),
            (json!({"messages": [], "seed": 1.5}), "seed"),
            (json!({"messages": [], "stop": [1]}), "stop"),
            (json!({"messages": [], "tool_choice": "sometimes"}), "tool_choice"),
            (json!({"messages": [], "tools": [{"type": "function"}]}), "tools[0]"),
            (json!({"messages": [], "response_format": {"type": "yaml"}}), "response_format.type"),
            (json!({"messages": [], "stream": "yes"}), "stream"),
            (json!({"messages": [], "stream_options": {"include_usage": 1}}), "stream_options.include_usage"),
        ];
        for (body, field) in cases {
            assert_eq!(param_of(body.clone()).as_deref(), Some(field), "{body}");
        }
        assert!(request_to_ir(&json!([1, 2])).is_err());
    }

    #[test]
    fn arbitrary_json_never_panics() {
        let samples = [
            json!(null),
            json!("x"),
            json!({"messages": [null, {"role": null}]}),
            json!({"messages": [{"role": "assistant", "tool_calls": [null]}]}),
            json!({"messages": [{"role": "assistant", "function_call": "f"}]}),
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 3}]}]}),
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]}]}),
            json!({"messages": [], "response_format": {"type": "json_schema", "json_schema": []}}),
            json!({"messages": [], "tool_choice": {"type": "function"}}),
            json!({"messages": [], "reasoning": {"max_tokens": "lots"}}),
            json!({"messages": [], "functions": [{"parameters": {}}]}),
        ];
        for body in samples {
            let _ = request_to_ir(&body);
        }
    }
}
