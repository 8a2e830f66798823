//! The canonical chat IR every dialect translates to and from.
//!
//! Requests, non-stream responses and stream events of the four wire formats meet here, so a
//! pairing is `to_ir` on one side and `from_ir` on the other. The IR is block-structured (the
//! richest of the four shapes): flat formats synthesise block boundaries on the way in and drop
//! them on the way out. Opaque provider data that must survive a round trip (thinking
//! signatures, encrypted reasoning, cache markers) is carried verbatim.

use serde_json::Value;

use crate::error_kinds::ErrorKind;
use crate::usage::Usage;

/// Who speaks a message. System prompts live in `ChatRequest::system`, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// Tool results (OpenAI `tool` messages, Anthropic `tool_result` blocks, Gemini
    /// `functionResponse` parts, Responses `function_call_output` items).
    Tool,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// Anthropic `cache_control` marker, verbatim.
        cache_control: Option<Value>,
    },
    Image {
        source: ImageSource,
        /// OpenAI `detail` (auto | low | high).
        detail: Option<String>,
    },
    ToolCall {
        id: String,
        name: String,
        /// The arguments as JSON text (OpenAI style); Gemini's object is serialised here.
        arguments: String,
        /// Gemini `thoughtSignature` attached to this call, verbatim.
        signature: Option<String>,
    },
    ToolResult {
        call_id: String,
        /// The called function's name (Gemini needs it; filled from the call when absent).
        name: Option<String>,
        /// Text and images the tool returned.
        content: Vec<Part>,
        is_error: bool,
    },
    Reasoning {
        text: String,
        /// Anthropic thinking signature, passed back byte-exact.
        signature: Option<String>,
        /// Anthropic `redacted_thinking` data or Responses `encrypted_content`.
        encrypted: Option<String>,
        /// Dialect that produced the signature / encrypted data (they only mean
        /// something to that provider family).
        origin: Option<crate::dialect::Dialect>,
    },
}

impl Part {
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into(), cache_control: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

/// A function tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments (converted per dialect, e.g. Gemini's subset).
    pub parameters: Value,
    pub strict: Option<bool>,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// Must call some tool (OpenAI `required`, Anthropic `any`, Gemini `ANY`).
    Required,
    /// Must call this tool.
    Tool(String),
}

/// Structured-output request.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { name: String, schema: Value, strict: Option<bool> },
}

/// Reasoning / extended-thinking controls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reasoning {
    /// `none | minimal | low | medium | high | xhigh` (OpenAI effort scale).
    pub effort: Option<String>,
    /// Explicit thinking budget in tokens (Anthropic / Gemini).
    pub budget_tokens: Option<u64>,
    /// Responses `reasoning.summary` (auto | concise | detailed).
    pub summary: Option<String>,
}

/// Thinking budget for an OpenAI-style effort (PARITY: low 1024, medium 8192, high 32768).
pub fn budget_for_effort(effort: &str) -> Option<u64> {
    match effort {
        "minimal" => Some(1024),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(32768),
        "xhigh" => Some(65536),
        _ => None,
    }
}

/// OpenAI-style effort for a thinking budget (the inverse of `budget_for_effort`).
pub fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0..=2047 => "low",
        2048..=16383 => "medium",
        _ => "high",
    }
}

/// A chat request in canonical form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub model: Option<String>,
    /// Every system / developer instruction, in order.
    pub system: Vec<Part>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning: Option<Reasoning>,
    pub stream: bool,
    /// The client asked for usage in the stream (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
    /// End-user id for abuse tracking (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    ContentFilter,
    Refusal,
    PauseTurn,
    ContextWindowExceeded,
    /// Anything else, verbatim (mapped to the closest value by each encoder).
    Other(String),
}

/// A complete (non-stream) assistant answer in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    pub model: String,
    pub created: Option<u64>,
    /// Assistant content in order: reasoning, text, tool calls.
    pub parts: Vec<Part>,
    pub stop_reason: StopReason,
    pub stop_sequence: Option<String>,
    pub usage: Option<Usage>,
}

/// Kind of a content block as a stream announces it.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Text,
    Reasoning,
    /// Anthropic `redacted_thinking` (data arrives whole).
    RedactedReasoning {
        data: String,
    },
    ToolCall {
        id: String,
        name: String,
    },
}

/// One step of a streamed answer. Block indexes are assigned by the decoder, dense from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer began. `usage` carries input counts where the upstream reports them early.
    Start {
        id: String,
        model: String,
        usage: Option<Usage>,
    },
    BlockStart {
        index: usize,
        kind: BlockKind,
    },
    TextDelta {
        index: usize,
        text: String,
    },
    ReasoningDelta {
        index: usize,
        text: String,
    },
    SignatureDelta {
        index: usize,
        signature: String,
    },
    /// Opaque reasoning state for a reasoning block (Responses `encrypted_content`).
    EncryptedReasoning {
        index: usize,
        data: String,
    },
    ToolArgsDelta {
        index: usize,
        json: String,
    },
    BlockStop {
        index: usize,
    },
    /// Usage so far (cumulative; later values replace earlier ones field by field when non-zero).
    Usage(Usage),
    /// Generation ended (usage may still follow, e.g. OpenAI's trailing usage chunk).
    Finish {
        reason: StopReason,
        stop_sequence: Option<String>,
    },
    /// The upstream reported an error in band: its message, its own word for the error (a type,
    /// code or status name), and what that means (`error_kinds::classify`).
    Error {
        message: String,
        error_type: Option<String>,
        kind: ErrorKind,
    },
}

/// Merges a later usage report into an earlier one (non-zero fields win).
pub fn merge_usage(into: &mut Usage, later: &Usage) {
    let pick = |a: &mut u64, b: u64| {
        if b != 0 {
            *a = b;
        }
    };
    pick(&mut into.input_tokens, later.input_tokens);
    pick(&mut into.output_tokens, later.output_tokens);
    pick(&mut into.cached_tokens, later.cached_tokens);
    pick(&mut into.cache_creation_tokens, later.cache_creation_tokens);
    pick(&mut into.reasoning_tokens, later.reasoning_tokens);
}

/// Fills `ToolResult::name` from the matching earlier `ToolCall` (Gemini needs names, OpenAI
/// tool messages do not carry them).
pub fn fill_tool_result_names(messages: &mut [Message]) {
    let mut names: Vec<(String, String)> = Vec::new();
    for message in messages.iter_mut() {
        for part in message.parts.iter_mut() {
            match part {
                Part::ToolCall { id, name, .. } => names.push((id.clone(), name.clone())),
                Part::ToolResult { call_id, name, .. } if name.is_none() => {
                    *name = names.iter().rev().find(|(id, _)| id == call_id).map(|(_, n)| n.clone());
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_result_names_come_from_calls() {
        let mut messages = vec![
            Message {
                role: Role::Assistant,
                parts: vec![Part::ToolCall {
                    id: "c1".into(),
                    name: "lookup".into(),
                    arguments: "{}".into(),
                    signature: None,
                }],
            },
            Message {
                role: Role::Tool,
                parts: vec![Part::ToolResult {
                    call_id: "c1".into(),
                    name: None,
                    content: vec![Part::text("ok")],
                    is_error: false,
                }],
            },
        ];
        fill_tool_result_names(&mut messages);
        assert!(matches!(&messages[1].parts[0], Part::ToolResult { name: Some(n), .. } if n == "lookup"));
    }

    #[test]
    fn usage_merge_keeps_earlier_non_zero_fields() {
        let mut u = Usage { input_tokens: 10, ..Default::default() };
        merge_usage(&mut u, &Usage { output_tokens: 5, ..Default::default() });
        assert_eq!((u.input_tokens, u.output_tokens), (10, 5));
    }

    #[test]
    fn effort_and_budget_round_trip_on_the_scale() {
        for effort in ["low", "medium", "high"] {
            assert_eq!(effort_for_budget(budget_for_effort(effort).unwrap()), effort);
        }
    }
}
