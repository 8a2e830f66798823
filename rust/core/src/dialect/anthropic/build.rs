//! Anthropic Messages requests from the IR (the body sent to an Anthropic upstream).
//!
//! Lossy choices:
//! - `max_tokens` defaults to 8192 and is raised to `budget + 4096` (at most 64000, the budget
//!   shrinking to fit) when thinking needs it.
//! - Tool call ids are rewritten to Anthropic's `[a-zA-Z0-9_-]` alphabet (same rewrite for the
//!   call and its result).
//! - Thinking is requested from the IR budget or effort (`none`/`minimal` mean off, budget 0
//!   means off, minimum 1024). It is NOT requested when the client forces a tool (the API
//!   rejects forced tool use with thinking) or when the assistant turn the API would require to
//!   start with a signed thinking block does not (the tool-use loop in progress, or an assistant
//!   prefill): we cannot invent a signature. With thinking on, temperature / top_p / top_k are
//!   dropped; without it, thinking blocks are removed from a final assistant prefill.
//! - Temperature is clamped to Anthropic's 0..=1; when both temperature and top_p are given only
//!   temperature is sent (recent Claude models reject the pair).
//! - Reasoning parts go back as `thinking` / `redacted_thinking` blocks only when they came from
//!   Anthropic with a signature / data; they lead their assistant turn. Other reasoning is
//!   dropped.
//! - Structured output (`json_object` / `json_schema`) becomes a trailing system text block
//!   asking for JSON matching the schema (`output_config.format` is not sent: many models and
//!   Anthropic-compatible upstreams reject it).
//! - Tool `strict`, `seed`, frequency / presence penalties have no Anthropic field and are
//!   dropped; images in assistant turns are dropped (the API accepts none there).
//! - A history that does not start with a user turn (or is empty) gets a leading user turn with
//!   the text `(continue)`: the API requires the first message to be from the user.

use serde_json::{json, Map, Value};

use super::tool_input;
use crate::dialect::Dialect;
use crate::error::CoreResult;
use crate::ir::{
    budget_for_effort, ChatRequest, ImageSource, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice,
};

/// `max_tokens` sent when the client gave none (the API requires the field).
const DEFAULT_MAX_TOKENS: u64 = 8192;
/// Room left for the answer above the thinking budget when `max_tokens` is raised.
const ANSWER_HEADROOM: u64 = 4096;
/// Ceiling for a raised `max_tokens` (the largest standard output of current Claude models).
const MAX_OUTPUT_TOKENS: u64 = 64_000;
/// Smallest thinking budget the API accepts.
const MIN_THINKING_BUDGET: u64 = 1024;
/// Text of the user turn put before a history that starts with the assistant.
const CONTINUE_TEXT: &str = "(continue)";

/// One wire turn while it is being assembled. `lead` holds the blocks the API wants first:
/// `tool_result` blocks in a user turn, `thinking` / `redacted_thinking` in an assistant turn.
struct Turn {
    assistant: bool,
    lead: Vec<Value>,
    rest: Vec<Value>,
}

impl Turn {
    fn into_json(self) -> Value {
        let mut content = self.lead;
        content.extend(self.rest);
        json!({
            "role": if self.assistant { "assistant" } else { "user" },
            "content": content,
        })
    }

    fn has_tool_results(&self) -> bool {
        !self.assistant && !self.lead.is_empty()
    }
}

/// Builds the Anthropic Messages body for `model`.
pub fn request_from_ir(request: &ChatRequest, model: &str) -> CoreResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));

    let tools: Vec<Value> = request.tools.iter().map(tool_from_ir).collect();
    let mut turns = turns_from_ir(&request.messages);

    let mut budget = thinking_budget(request.reasoning.as_ref());
    let forced_tool =
        !tools.is_empty() && matches!(request.tool_choice, Some(ToolChoice::Required | ToolChoice::Tool(_)));
    if forced_tool || !history_allows_thinking(&turns) {
        budget = None;
    }
    if budget.is_none() {
        strip_prefill_thinking(&mut turns);
    }
    if turns.first().is_none_or(|t| t.assistant) {
        turns.insert(
            0,
            Turn { assistant: false, lead: Vec::new(), rest: vec![json!({"type": "text", "text": CONTINUE_TEXT})] },
        );
    }

    let mut max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(b) = budget {
        if max_tokens <= b {
            // Room for the answer, within the largest output current models allow.
            max_tokens = b.saturating_add(ANSWER_HEADROOM).min(MAX_OUTPUT_TOKENS);
            budget = Some(b.min(max_tokens.saturating_sub(ANSWER_HEADROOM)));
        }
    }
    body.insert("max_tokens".into(), json!(max_tokens));

    let mut system: Vec<Value> = request
        .system
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, cache_control } if !text.is_empty() => Some(text_block(text, cache_control.as_ref())),
            _ => None,
        })
        .collect();
    if let Some(instruction) = request.response_format.as_ref().and_then(json_instruction) {
        system.push(text_block(&instruction, None));
    }
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    body.insert("messages".into(), Value::Array(turns.into_iter().map(Turn::into_json).collect()));

    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice_from_ir(request) {
            body.insert("tool_choice".into(), choice);
        }
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    match budget {
        Some(budget) => {
            body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
        }
        None => {
            if let Some(t) = request.temperature {
                body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
            }
            if let (Some(p), None) = (request.top_p, request.temperature) {
                body.insert("top_p".into(), json!(p));
            }
            if let Some(k) = request.top_k {
                body.insert("top_k".into(), json!(k));
            }
        }
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if request.stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(body))
}

/// The thinking budget to request, if any.
fn thinking_budget(reasoning: Option<&Reasoning>) -> Option<u64> {
    let reasoning = reasoning?;
    let budget = match reasoning.budget_tokens {
        Some(budget) => budget,
        None => match reasoning.effort.as_deref()? {
            "none" | "minimal" => return None,
            effort => budget_for_effort(effort)?,
        },
    };
    // A zero budget is Gemini's "thinking off".
    (budget > 0).then(|| budget.max(MIN_THINKING_BUDGET))
}

/// With thinking on, the API requires the assistant turn that ends the history (a prefill) or
/// that precedes the final tool results (the tool-use loop in progress) to start with a signed
/// thinking block.
fn history_allows_thinking(turns: &[Turn]) -> bool {
    let Some(last) = turns.last() else {
        return true;
    };
    let anchor = if last.assistant {
        Some(last)
    } else if last.has_tool_results() {
        turns.len().checked_sub(2).and_then(|i| turns.get(i)).filter(|t| t.assistant)
    } else {
        None
    };
    anchor.is_none_or(|turn| !turn.lead.is_empty())
}

/// With thinking off, the API rejects thinking blocks in a final assistant turn.
fn strip_prefill_thinking(turns: &mut Vec<Turn>) {
    if let Some(last) = turns.last_mut().filter(|t| t.assistant) {
        last.lead.clear();
        if last.rest.is_empty() {
            turns.pop();
        }
    }
}

fn turns_from_ir(messages: &[Message]) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::with_capacity(messages.len() + 1);
    for message in messages {
        let assistant = message.role == Role::Assistant;
        let mut turn = Turn { assistant, lead: Vec::new(), rest: Vec::new() };
        for part in &message.parts {
            part_from_ir(part, &mut turn);
        }
        if turn.lead.is_empty() && turn.rest.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(prev) if prev.assistant == assistant => {
                prev.lead.extend(turn.lead);
                prev.rest.extend(turn.rest);
            }
            _ => turns.push(turn),
        }
    }
    turns
}

fn part_from_ir(part: &Part, turn: &mut Turn) {
    match part {
        Part::Text { text, cache_control } => {
            // The API rejects empty text blocks.
            if !text.is_empty() {
                turn.rest.push(text_block(text, cache_control.as_ref()));
            }
        }
        Part::Image { source, .. } => {
            if !turn.assistant {
                turn.rest.push(image_block(source));
            }
        }
        Part::ToolCall { id, name, arguments, .. } => {
            if turn.assistant {
                turn.rest.push(json!({
                    "type": "tool_use",
                    "id": wire_tool_id(id),
                    "name": name,
                    "input": tool_input(arguments),
                }));
            }
        }
        Part::ToolResult { call_id, content, is_error, .. } => {
            if !turn.assistant {
                turn.lead.push(tool_result_block(call_id, content, *is_error));
            }
        }
        Part::Reasoning { text, signature, encrypted, origin } => {
            if turn.assistant && *origin == Some(Dialect::Anthropic) {
                if let Some(data) = encrypted.as_deref().filter(|d| !d.is_empty()) {
                    turn.lead.push(json!({"type": "redacted_thinking", "data": data}));
                } else if let Some(signature) = signature.as_deref().filter(|s| !s.is_empty()) {
                    turn.lead.push(json!({
                        "type": "thinking",
                        "thinking": text,
                        "signature": signature,
                    }));
                }
            }
        }
    }
}

/// Anthropic accepts tool ids matching `^[a-zA-Z0-9_-]+$`; other providers' ids (e.g.
/// `functions.get_weather:0`) are rewritten the same way in calls and results, so pairs still
/// match.
fn wire_tool_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_unknown".to_owned();
    }
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn text_block(text: &str, cache_control: Option<&Value>) -> Value {
    let mut block = Map::new();
    block.insert("type".into(), json!("text"));
    block.insert("text".into(), json!(text));
    if let Some(marker) = cache_control {
        block.insert("cache_control".into(), marker.clone());
    }
    Value::Object(block)
}

/// `data:<media type>;base64,<data>` split in two.
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

fn image_block(source: &ImageSource) -> Value {
    let source = match source {
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        ImageSource::Url(url) => match parse_data_url(url) {
            Some((media_type, data)) => {
                json!({"type": "base64", "media_type": media_type, "data": data})
            }
            None => json!({"type": "url", "url": url}),
        },
    };
    json!({"type": "image", "source": source})
}

fn tool_result_block(call_id: &str, content: &[Part], is_error: bool) -> Value {
    let mut blocks: Vec<Value> = content
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, cache_control } if !text.is_empty() => Some(text_block(text, cache_control.as_ref())),
            Part::Image { source, .. } => Some(image_block(source)),
            _ => None,
        })
        .collect();
    let mut block = Map::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(wire_tool_id(call_id)));
    let single_plain_text = blocks.len() == 1
        && blocks
            .first()
            .is_some_and(|b| b.get("type").and_then(Value::as_str) == Some("text") && b.get("cache_control").is_none());
    if single_plain_text {
        if let Some(text) = blocks.pop().and_then(|mut b| b.get_mut("text").map(Value::take)) {
            block.insert("content".into(), text);
        }
    } else if !blocks.is_empty() {
        block.insert("content".into(), Value::Array(blocks));
    }
    if is_error {
        block.insert("is_error".into(), Value::Bool(true));
    }
    Value::Object(block)
}

fn tool_from_ir(tool: &Tool) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    if let Some(description) = tool.description.as_deref().filter(|d| !d.is_empty()) {
        out.insert("description".into(), json!(description));
    }
    let schema = match &tool.parameters {
        Value::Object(schema) => {
            let mut schema = schema.clone();
            schema.entry("type").or_insert_with(|| Value::String("object".into()));
            Value::Object(schema)
        }
        _ => json!({"type": "object", "properties": {}}),
    };
    out.insert("input_schema".into(), schema);
    if let Some(marker) = &tool.cache_control {
        out.insert("cache_control".into(), marker.clone());
    }
    Value::Object(out)
}

fn tool_choice_from_ir(request: &ChatRequest) -> Option<Value> {
    let single = request.parallel_tool_calls == Some(false);
    let mut choice = match request.tool_choice.as_ref() {
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Tool(name)) => json!({"type": "tool", "name": name}),
        None if single => json!({"type": "auto"}),
        None => return None,
    };
    if single {
        if let Some(obj) = choice.as_object_mut() {
            obj.insert("disable_parallel_tool_use".into(), Value::Bool(true));
        }
    }
    Some(choice)
}

/// The system instruction standing in for OpenAI's structured-output modes.
fn json_instruction(format: &ResponseFormat) -> Option<String> {
    const BARE: &str = "Do not add any explanation, commentary or Markdown code fences.";
    match format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(format!("Respond only with a single valid JSON object. {BARE}")),
        ResponseFormat::JsonSchema { name, schema, .. } => Some(format!(
            "Respond only with a single valid JSON value that conforms to the JSON Schema \
             \"{name}\" below. {BARE}\n\n{schema}"
        )),
    }
}
