//! Stream relay: upstream SSE bytes in, client-dialect SSE bytes out, usage captured.
//!
//! Three modes: OpenAI-to-OpenAI relays chunks byte-stable (sanitising provider extras);
//! other same-dialect pairs forward every event's payload untouched while a decoder watches for
//! usage and the terminal event; cross-dialect pairs decode to IR events and encode them for the
//! client. In every mode a stream that stops before its terminal event, or a failure reported
//! by the caller, ends with an in-band error in the client's dialect, never as a clean finish.

use serde_json::Value;

use crate::dialect::{self, Dialect, EncodeOptions, StreamDecode, StreamEncode};
use crate::error_body::{stream_error_event, ErrorSpec};
use crate::ir::{merge_usage, StreamEvent};
use crate::sanitize::{clean_chunk, sanitize_chat_object};
use crate::sse::{encode_event, SseDecoder, SseEvent};
use crate::usage::Usage;

/// Per-stream options decided by the gateway.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Ids, times and names the encoder needs (the core has no clock).
    pub encode: EncodeOptions,
}

/// How the stream ended, as far as the translator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Open,
    Completed,
    Failed,
}

enum Mode {
    OpenAiRelay { saw_finish: bool },
    Passthrough { decoder: Box<dyn StreamDecode> },
    Translate { decoder: Box<dyn StreamDecode>, encoder: Box<dyn StreamEncode> },
}

pub struct StreamTranslator {
    upstream: Dialect,
    client: Dialect,
    include_usage: bool,
    mode: Mode,
    sse: SseDecoder,
    events: Vec<SseEvent>,
    ir_events: Vec<StreamEvent>,
    usage: Option<Usage>,
    state: StreamState,
    error_message: Option<String>,
    /// The `response.completed` payload, for a Responses client (the gateway stores it).
    completed_response: Option<String>,
}

impl StreamTranslator {
    pub fn new(upstream: Dialect, client: Dialect, options: StreamOptions) -> Self {
        let mode = if upstream == client && client == Dialect::OpenAi {
            Mode::OpenAiRelay { saw_finish: false }
        } else if upstream == client {
            Mode::Passthrough { decoder: dialect::decoder(upstream) }
        } else {
            let mut encode = options.encode.clone();
            encode.upstream = Some(upstream);
            encode.include_usage = options.include_usage;
            Mode::Translate { decoder: dialect::decoder(upstream), encoder: dialect::encoder(client, encode) }
        };
        StreamTranslator {
            upstream,
            client,
            include_usage: options.include_usage,
            mode,
            sse: SseDecoder::new(),
            events: Vec::new(),
            ir_events: Vec::new(),
            usage: None,
            state: StreamState::Open,
            error_message: None,
            completed_response: None,
        }
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

    pub fn completed_response(&self) -> Option<&str> {
        self.completed_response.as_deref()
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
        self.sse.feed(chunk, &mut self.events);
        let events = std::mem::take(&mut self.events);
        for event in &events {
            if self.state != StreamState::Open {
                break;
            }
            match self.mode {
                Mode::OpenAiRelay { .. } => self.relay_openai(event, &mut out),
                Mode::Passthrough { .. } => self.relay_passthrough(event, &mut out),
                Mode::Translate { .. } => self.relay_translate(event, &mut out),
            }
        }
        self.events = events;
        self.events.clear();
        out
    }

    /// The upstream body ended. Returns the closing bytes: the dialect's clean ending when the
    /// stream really finished, else an in-band error.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.state != StreamState::Open {
            return Vec::new();
        }
        let complete = match &self.mode {
            Mode::OpenAiRelay { saw_finish } => *saw_finish,
            Mode::Passthrough { decoder } | Mode::Translate { decoder, .. } => decoder.is_complete(),
        };
        if !complete {
            return self.fail("upstream stream ended before the response was complete");
        }
        self.state = StreamState::Completed;
        let mut out = Vec::new();
        match &mut self.mode {
            Mode::OpenAiRelay { .. } => out.extend_from_slice(b"data: [DONE]\n\n"),
            Mode::Passthrough { .. } => {}
            Mode::Translate { encoder, .. } => {
                encoder.finish(&mut out);
                if self.client == Dialect::Responses {
                    self.completed_response = find_completed_response(&out);
                }
            }
        }
        out
    }

    /// Ends the stream with an in-band error (connection lost, idle timeout...), unless it
    /// already ended.
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        if self.state != StreamState::Open {
            return Vec::new();
        }
        self.state = StreamState::Failed;
        self.error_message = Some(message.to_owned());
        let mut out = Vec::new();
        match &mut self.mode {
            Mode::Translate { encoder, .. } => encoder.fail(message, &mut out),
            _ => {
                let spec = ErrorSpec {
                    status: 502,
                    message,
                    error_type: Some(if self.client == Dialect::Anthropic { "api_error" } else { "upstream_error" }),
                    code: Some("stream_interrupted"),
                    ..Default::default()
                };
                out = stream_error_event(self.client, &spec, 0);
            }
        }
        out
    }

    fn note_usage(&mut self, usage: &Usage) {
        match &mut self.usage {
            Some(current) => merge_usage(current, usage),
            None => self.usage = Some(*usage),
        }
    }

    /// Decodes one upstream event to IR events (into `self.ir_events`); false on a protocol error.
    fn decode(&mut self, event: &SseEvent) -> Result<(), String> {
        self.ir_events.clear();
        let decoder = match &mut self.mode {
            Mode::Passthrough { decoder } | Mode::Translate { decoder, .. } => decoder,
            Mode::OpenAiRelay { .. } => return Ok(()),
        };
        decoder.on_event(event, &mut self.ir_events).map_err(|e| e.message().to_owned())?;
        let events = std::mem::take(&mut self.ir_events);
        for ev in &events {
            if let StreamEvent::Usage(u) = ev {
                self.note_usage(u);
            }
        }
        self.ir_events = events;
        Ok(())
    }

    fn relay_passthrough(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if let Err(message) = self.decode(event) {
            out.extend(self.fail(&format!("upstream sent an invalid stream event: {message}")));
            return;
        }
        encode_event(out, event.event.as_deref(), &event.data);
        if self.client == Dialect::Responses
            && matches!(event.event.as_deref(), Some("response.completed" | "response.incomplete"))
        {
            self.completed_response = Some(event.data.clone());
        }
        let error = self.ir_events.iter().find_map(|e| match e {
            StreamEvent::Error { message, .. } => Some(message.clone()),
            _ => None,
        });
        if let Some(message) = error {
            self.state = StreamState::Failed;
            self.error_message = Some(message);
        } else if matches!(&self.mode, Mode::Passthrough { decoder } if decoder.is_complete()) {
            // Nothing after the upstream's own terminal event reaches the client.
            self.state = StreamState::Completed;
        }
    }

    fn relay_translate(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if let Err(message) = self.decode(event) {
            out.extend(self.fail(&format!("upstream sent an invalid stream event: {message}")));
            return;
        }
        let events = std::mem::take(&mut self.ir_events);
        for ev in &events {
            if let Mode::Translate { encoder, .. } = &mut self.mode {
                // An upstream error is written by the encoder in the client's words for its kind
                // (error_kinds.rs), and ends the stream.
                encoder.on_event(ev, out);
            }
            if let StreamEvent::Error { message, .. } = ev {
                self.state = StreamState::Failed;
                self.error_message = Some(message.clone());
                break;
            }
        }
        self.ir_events = events;
    }

    fn relay_openai(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.state = StreamState::Completed;
            out.extend_from_slice(b"data: [DONE]\n\n");
            return;
        }
        if let Some(clean) = clean_chunk(data) {
            // Nearly every chunk: allowed keys only, no usage, no error: forwarded as it came.
            if clean.finished {
                if let Mode::OpenAiRelay { saw_finish } = &mut self.mode {
                    *saw_finish = true;
                }
            }
            encode_event(out, None, data);
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
            let message = err.get("message").and_then(Value::as_str).unwrap_or("upstream error").to_owned();
            encode_event(out, None, data);
            self.state = StreamState::Failed;
            self.error_message = Some(message);
            return;
        }
        let usage = value.get("usage").and_then(Usage::from_openai);
        let choices_empty = value.get("choices").and_then(Value::as_array).is_none_or(Vec::is_empty);
        if let Some(u) = usage {
            self.usage = Some(u);
            if choices_empty && !self.include_usage {
                // The gateway asked the upstream for usage on the client's behalf; the client
                // did not ask for this chunk, so it stays here.
                return;
            }
        }
        if let Some(choices) = value.get("choices").and_then(Value::as_array) {
            if choices.iter().any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null())) {
                if let Mode::OpenAiRelay { saw_finish } = &mut self.mode {
                    *saw_finish = true;
                }
            }
        }
        if sanitize_chat_object(&mut value) {
            encode_event(out, None, &value.to_string());
        } else {
            encode_event(out, None, data);
        }
    }
}

/// The data of the `response.completed` (or `response.incomplete`) event in encoder output.
fn find_completed_response(bytes: &[u8]) -> Option<String> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    events
        .into_iter()
        .rev()
        .find(|e| matches!(e.event.as_deref(), Some("response.completed" | "response.incomplete")))
        .map(|e| e.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translator(include_usage: bool) -> StreamTranslator {
        StreamTranslator::new(Dialect::OpenAi, Dialect::OpenAi, StreamOptions { include_usage, ..Default::default() })
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
        let input = format!("{}{}{}data: [DONE]\n\n", frame(CHUNK), frame(FINISH), frame(USAGE));
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
        assert_eq!(String::from_utf8(out).unwrap(), format!("{}data: [DONE]\n\n", frame(FINISH)));
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
        assert_eq!(String::from_utf8(out).unwrap(), format!("{}data: [DONE]\n\n", frame(CHUNK)));
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
