//! Stream relay: upstream SSE bytes in, client-dialect SSE bytes out, usage captured.
//!
//! The translator owns one stream's state. It never lets a stream look finished when it was
//! not: an upstream that stops before its finish marker, or a failure reported by the caller,
//! ends the client stream with an in-band error in the client's dialect and no `[DONE]`.

use serde_json::Value;

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::error_body::{stream_error_event, ErrorSpec};
use crate::sanitize::sanitize_chat_object;
use crate::sse::{encode_event, SseDecoder, SseEvent};
use crate::usage::Usage;

/// Per-stream options decided by the gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOptions {
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// How the stream ended, as far as the translator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Open,
    Completed,
    Failed,
}

pub struct StreamTranslator {
    upstream: Dialect,
    client: Dialect,
    options: StreamOptions,
    decoder: SseDecoder,
    events: Vec<SseEvent>,
    usage: Option<Usage>,
    saw_finish: bool,
    state: StreamState,
    error_message: Option<String>,
}

impl StreamTranslator {
    pub fn new(upstream: Dialect, client: Dialect, options: StreamOptions) -> CoreResult<Self> {
        if (upstream, client) != (Dialect::OpenAi, Dialect::OpenAi) {
            return Err(CoreError::unsupported(format!(
                "stream translation {} -> {} is not available",
                upstream.name(),
                client.name()
            )));
        }
        Ok(StreamTranslator {
            upstream,
            client,
            options,
            decoder: SseDecoder::new(),
            events: Vec::new(),
            usage: None,
            saw_finish: false,
            state: StreamState::Open,
            error_message: None,
        })
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    pub fn state(&self) -> StreamState {
        self.state
    }

    /// The message of the error that failed the stream, if it failed.
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    pub fn dialects(&self) -> (Dialect, Dialect) {
        (self.upstream, self.client)
    }

    /// Feeds one upstream chunk; returns the bytes to send to the client now (maybe none).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.state != StreamState::Open {
            return out;
        }
        self.decoder.feed(chunk, &mut self.events);
        let events = std::mem::take(&mut self.events);
        for event in &events {
            if self.state != StreamState::Open {
                break;
            }
            self.relay_openai(event, &mut out);
        }
        self.events = events;
        self.events.clear();
        out
    }

    /// The upstream body ended. Returns the closing bytes: `[DONE]` when the stream really
    /// finished (added if the upstream left it out), else an in-band error.
    pub fn finish(&mut self) -> Vec<u8> {
        match self.state {
            StreamState::Open if self.saw_finish => {
                self.state = StreamState::Completed;
                b"data: [DONE]\n\n".to_vec()
            }
            StreamState::Open => {
                self.fail("upstream stream ended before the response was complete")
            }
            _ => Vec::new(),
        }
    }

    /// Ends the stream with an in-band error (connection lost, idle timeout...), unless it
    /// already ended.
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        if self.state != StreamState::Open {
            return Vec::new();
        }
        self.state = StreamState::Failed;
        self.error_message = Some(message.to_owned());
        let spec = ErrorSpec {
            status: 502,
            message,
            error_type: Some("upstream_error"),
            code: Some("stream_interrupted"),
            ..Default::default()
        };
        stream_error_event(self.client, &spec, 0)
    }

    fn relay_openai(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.state = StreamState::Completed;
            out.extend_from_slice(b"data: [DONE]\n\n");
            return;
        }
        let mut value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => {
                out.extend(self.fail("upstream sent a stream event that is not JSON"));
                return;
            }
        };
        if let Some(err) = value.get("error").filter(|e| !e.is_null()) {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error")
                .to_owned();
            encode_event(out, None, data);
            self.state = StreamState::Failed;
            self.error_message = Some(message);
            return;
        }
        let usage = value.get("usage").and_then(Usage::from_openai);
        let choices_empty = value
            .get("choices")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if let Some(u) = usage {
            self.usage = Some(u);
            if choices_empty && !self.options.include_usage {
                // The gateway asked the upstream for usage on the client's behalf; the client
                // did not ask for this chunk, so it stays here.
                return;
            }
        }
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            if choices
                .iter()
                .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
            {
                self.saw_finish = true;
            }
        }
        if sanitize_chat_object(&mut value) {
            encode_event(out, None, &value.to_string());
        } else {
            encode_event(out, None, data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translator(include_usage: bool) -> StreamTranslator {
        StreamTranslator::new(
            Dialect::OpenAi,
            Dialect::OpenAi,
            StreamOptions { include_usage },
        )
        .unwrap()
    }

    const CHUNK: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
    const FINISH: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
    const USAGE: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;

    fn frame(data: &str) -> String {
        format!("data: {data}\n\n")
    }

    #[test]
    fn clean_stream_passes_through_byte_for_byte() {
        let mut t = translator(true);
        let input = format!(
            "{}{}{}data: [DONE]\n\n",
            frame(CHUNK),
            frame(FINISH),
            frame(USAGE)
        );
        let mut out = t.feed(input.as_bytes());
        out.extend(t.finish());
        assert_eq!(String::from_utf8(out).unwrap(), input);
        assert_eq!(t.state(), StreamState::Completed);
        assert_eq!(t.usage().unwrap().input_tokens, 3);
    }

    #[test]
    fn usage_chunk_is_withheld_when_client_did_not_ask() {
        let mut t = translator(false);
        let out = t.feed(format!("{}{}data: [DONE]\n\n", frame(FINISH), frame(USAGE)).as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}data: [DONE]\n\n", frame(FINISH))
        );
        assert_eq!(t.usage().unwrap().output_tokens, 2);
    }

    #[test]
    fn missing_done_after_finish_is_added_once() {
        let mut t = translator(false);
        let mut out = t.feed(frame(FINISH).as_bytes());
        out.extend(t.finish());
        out.extend(t.finish());
        assert_eq!(String::from_utf8(out).unwrap().matches("[DONE]").count(), 1);
    }

    #[test]
    fn cut_stream_ends_with_error_and_no_done() {
        let mut t = translator(false);
        let mut out = t.feed(frame(CHUNK).as_bytes());
        out.extend(t.finish());
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n") && text.contains("\"error\"") && !text.contains("[DONE]"));
        assert_eq!(t.state(), StreamState::Failed);
    }

    #[test]
    fn extras_are_sanitised_and_duplicate_done_dropped() {
        let mut t = translator(false);
        let dirty = CHUNK.replacen("\"choices\"", "\"x_groq\":{\"id\":1},\"choices\"", 1);
        let out = t.feed(format!("{}data: [DONE]\n\ndata: [DONE]\n\n", frame(&dirty)).as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}data: [DONE]\n\n", frame(CHUNK))
        );
    }

    #[test]
    fn upstream_error_event_is_forwarded_and_fails_stream() {
        let mut t = translator(false);
        let out = t.feed(b"data: {\"error\":{\"message\":\"boom\"}}\n\n");
        assert!(String::from_utf8(out).unwrap().contains("boom"));
        assert_eq!(t.state(), StreamState::Failed);
        assert_eq!(t.error_message(), Some("boom"));
        assert!(t.finish().is_empty());
    }
}
