//! The four wire dialects the gateway speaks, on both sides, and the one interface each
//! implements: request / response conversion to and from the IR, and a stream decoder and
//! encoder. The four files use the same function names so that learning one teaches all.

pub mod anthropic;
pub mod gemini;
pub mod openai;
pub mod responses;

use serde_json::Value;

use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatRequest, ChatResponse, StreamEvent};
use crate::sse::SseEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
    /// OpenAI Responses.
    Responses,
}

impl Dialect {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "openai" => Ok(Dialect::OpenAi),
            "anthropic" | "claude" => Ok(Dialect::Anthropic),
            "gemini" => Ok(Dialect::Gemini),
            "responses" | "openai-responses" => Ok(Dialect::Responses),
            other => Err(CoreError::unsupported(format!("unknown dialect '{other}'"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Gemini => "gemini",
            Dialect::Responses => "responses",
        }
    }
}

/// Values the core cannot know by itself (it has no clock and makes no random ids).
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// Unix seconds for `created` / `created_at` fields.
    pub created: u64,
    /// Id to give the answer (Responses `resp_...`); the upstream's id is used when absent.
    pub response_id: Option<String>,
    /// Model name to report to the client; the upstream's when absent.
    pub model: Option<String>,
    /// OpenAI Chat: the client asked for the usage chunk.
    pub include_usage: bool,
    /// Dialect of the upstream that produced the answer. Signatures and encrypted reasoning
    /// are only passed to a client of the same dialect (they mean nothing elsewhere).
    pub upstream: Option<Dialect>,
}

/// Turns upstream SSE events into IR stream events.
pub trait StreamDecode: Send + Sync {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> CoreResult<()>;
    /// The upstream reached its own terminal event (finish reason / `[DONE]` / `message_stop`).
    fn is_complete(&self) -> bool;
}

/// Turns IR stream events into client SSE bytes.
pub trait StreamEncode: Send + Sync {
    fn on_event(&mut self, event: &StreamEvent, out: &mut Vec<u8>);
    /// The stream ended successfully: write the closing events (`[DONE]`, `message_stop`,
    /// `response.completed`...).
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The stream failed after it started: write an in-band error, never a clean ending.
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
}

pub fn request_to_ir(dialect: Dialect, body: &Value) -> CoreResult<ChatRequest> {
    match dialect {
        Dialect::OpenAi => openai::request_to_ir(body),
        Dialect::Anthropic => anthropic::request_to_ir(body),
        Dialect::Gemini => gemini::request_to_ir(body),
        Dialect::Responses => responses::request_to_ir(body),
    }
}

/// Builds the upstream body for `model` from the IR.
pub fn request_from_ir(dialect: Dialect, request: &ChatRequest, model: &str) -> CoreResult<Value> {
    match dialect {
        Dialect::OpenAi => openai::request_from_ir(request, model),
        Dialect::Anthropic => anthropic::request_from_ir(request, model),
        Dialect::Gemini => gemini::request_from_ir(request, model),
        Dialect::Responses => responses::request_from_ir(request, model),
    }
}

pub fn response_to_ir(dialect: Dialect, body: &Value) -> CoreResult<ChatResponse> {
    match dialect {
        Dialect::OpenAi => openai::response_to_ir(body),
        Dialect::Anthropic => anthropic::response_to_ir(body),
        Dialect::Gemini => gemini::response_to_ir(body),
        Dialect::Responses => responses::response_to_ir(body),
    }
}

pub fn response_from_ir(dialect: Dialect, response: &ChatResponse, opts: &EncodeOptions) -> Value {
    match dialect {
        Dialect::OpenAi => openai::response_from_ir(response, opts),
        Dialect::Anthropic => anthropic::response_from_ir(response, opts),
        Dialect::Gemini => gemini::response_from_ir(response, opts),
        Dialect::Responses => responses::response_from_ir(response, opts),
    }
}

pub fn decoder(dialect: Dialect) -> Box<dyn StreamDecode> {
    match dialect {
        Dialect::OpenAi => Box::new(openai::StreamDecoder::new()),
        Dialect::Anthropic => Box::new(anthropic::StreamDecoder::new()),
        Dialect::Gemini => Box::new(gemini::StreamDecoder::new()),
        Dialect::Responses => Box::new(responses::StreamDecoder::new()),
    }
}

pub fn encoder(dialect: Dialect, opts: EncodeOptions) -> Box<dyn StreamEncode> {
    match dialect {
        Dialect::OpenAi => Box::new(openai::StreamEncoder::new(opts)),
        Dialect::Anthropic => Box::new(anthropic::StreamEncoder::new(opts)),
        Dialect::Gemini => Box::new(gemini::StreamEncoder::new(opts)),
        Dialect::Responses => Box::new(responses::StreamEncoder::new(opts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_names() {
        for d in [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini, Dialect::Responses] {
            assert_eq!(Dialect::parse(d.name()), Ok(d));
        }
        assert!(Dialect::parse("cobol").is_err());
    }
}
