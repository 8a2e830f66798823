//! Token estimates for `count_tokens` when the upstream has no counting endpoint.
//!
//! The request is read through the IR (so every dialect counts the same content) and its text
//! is tokenised with the o200k BPE vocabulary, plus the small per-message, per-tool and
//! per-image overheads chat formats add. Providers tokenise differently, so this is an
//! estimate, marked as such by the gateway; it is a real tokenisation, not a character count.

use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

use crate::count_request::counted_request;
use crate::dialect::{self, Dialect};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatRequest, ImageSource, Part};

/// Tokens every message adds for its role and separators.
const PER_MESSAGE: u64 = 3;
/// Tokens every tool definition adds around its name, description and schema.
const PER_TOOL: u64 = 8;
/// An image whose size is unknown (a 1024x1024 picture in most vision tokenisers).
const PER_IMAGE: u64 = 1_000;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING: u64 = 3;

static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();

fn bpe() -> Option<&'static CoreBPE> {
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

/// Tokens in one text (rough fallback of 4 bytes per token if the vocabulary cannot load).
pub fn count_text(text: &str) -> u64 {
    match bpe() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

fn count_parts(parts: &[Part]) -> u64 {
    parts
        .iter()
        .map(|part| match part {
            Part::Text { text, .. } => count_text(text),
            Part::Image { source, .. } => match source {
                ImageSource::Base64 { .. } | ImageSource::Url(_) => PER_IMAGE,
            },
            Part::ToolCall { name, arguments, .. } => count_text(name) + count_text(arguments) + PER_MESSAGE,
            Part::ToolResult { content, .. } => count_parts(content) + PER_MESSAGE,
            Part::Reasoning { text, .. } => count_text(text),
        })
        .sum()
}

/// Estimated input tokens of a canonical request.
pub fn count_request(request: &ChatRequest) -> u64 {
    let system = if request.system.is_empty() { 0 } else { count_parts(&request.system) + PER_MESSAGE };
    let messages: u64 = request.messages.iter().map(|m| count_parts(&m.parts) + PER_MESSAGE).sum();
    let tools: u64 = request
        .tools
        .iter()
        .map(|t| {
            count_text(&t.name)
                + t.description.as_deref().map_or(0, count_text)
                + count_text(&t.parameters.to_string())
                + PER_TOOL
        })
        .sum();
    system + messages + tools + REPLY_PRIMING
}

/// Estimated input tokens of a client count body in `dialect` (a Gemini `:countTokens` body
/// counts its `generateContentRequest` when it has one).
pub fn estimate_request_tokens(body: &[u8], dialect_of_body: Dialect) -> CoreResult<u64> {
    crate::json_scan::scan_object(body)?;
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| CoreError::invalid(format!("invalid JSON: {e}")))?;
    if dialect_of_body == Dialect::Anthropic {
        // count_tokens bodies carry no max_tokens; it does not affect the count.
        if let Some(map) = value.as_object_mut() {
            map.entry("max_tokens").or_insert(Value::from(1));
        }
    }
    let request = dialect::request_to_ir(dialect_of_body, counted_request(&value, dialect_of_body))?;
    Ok(count_request(&request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Message, Role};

    #[test]
    fn text_is_tokenised_not_character_counted() {
        assert_eq!(count_text("hello world"), 2);
        assert!(count_text(&"token ".repeat(100)) <= 101);
    }

    #[test]
    fn anthropic_count_tokens_bodies_need_no_max_tokens() {
        let body = br#"{"model":"m","system":"Be terse.","messages":[{"role":"user","content":"hello there"}]}"#;
        let n = estimate_request_tokens(body, Dialect::Anthropic).unwrap();
        assert!(n > 5 && n < 20, "{n}");
    }

    #[test]
    fn request_counts_grow_with_content_and_tools() {
        let mut request = ChatRequest {
            messages: vec![Message { role: Role::User, parts: vec![Part::text("What is the weather in Paris?")] }],
            ..Default::default()
        };
        let base = count_request(&request);
        assert!(base > 7 && base < 20, "{base}");
        request.tools.push(crate::ir::Tool {
            name: "get_weather".into(),
            description: Some("Weather for a city".into()),
            parameters: serde_json::json!({"type":"object","properties":{"city":{"type":"string"}}}),
            strict: None,
            cache_control: None,
        });
        assert!(count_request(&request) > base + 10);
    }
}
