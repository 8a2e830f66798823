//! IR stream events to Chat Completions SSE chunks, as the official SDK reads them.
//!
//! Every chunk carries the same `id`, `created` and `model`; the first delta is
//! `{"role":"assistant","content":""}`. Tool calls get 0-based `index`es in order of
//! appearance. Block boundaries, signatures and encrypted reasoning have no wire form and are
//! dropped. `finish()` writes the finish chunk if none was written, the usage chunk when the
//! client asked for it, then `[DONE]`; `fail()` writes an in-band error and nothing else.

use serde_json::{json, Map, Value};

use super::{chat_completion_id, finish_reason_to_openai, usage_to_json};
use crate::dialect::{Dialect, EncodeOptions, StreamEncode};
use crate::error_body::{stream_error_event, ErrorSpec};
use crate::ir::{merge_usage, BlockKind, StopReason, StreamEvent};
use crate::sse::encode_event;
use crate::usage::Usage;

#[derive(Debug)]
pub struct StreamEncoder {
    opts: EncodeOptions,
    /// Fixed when the first chunk is written.
    id: String,
    model: String,
    started: bool,
    /// IR block index -> tool-call ordinal on the wire.
    tools: Vec<(usize, usize)>,
    usage: Option<Usage>,
    finish_sent: bool,
    /// `finish()` or `fail()` ran, or an in-band error was written: nothing more is written.
    closed: bool,
}

impl StreamEncoder {
    pub fn new(opts: EncodeOptions) -> Self {
        StreamEncoder {
            opts,
            id: String::new(),
            model: String::new(),
            started: false,
            tools: Vec::new(),
            usage: None,
            finish_sent: false,
            closed: false,
        }
    }

    /// Writes the opening chunk unless it was written; `id` and `model` come from the options
    /// first, then from the upstream's `Start`.
    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = chat_completion_id(self.opts.response_id.as_deref().unwrap_or(id), self.opts.created);
        self.model = self.opts.model.as_deref().unwrap_or(model).to_owned();
        self.chunk(json!({"role": "assistant", "content": ""}), Value::Null, out);
    }

    fn envelope(&self, choices: Value) -> Map<String, Value> {
        let mut chunk = Map::new();
        chunk.insert("id".to_owned(), json!(self.id));
        chunk.insert("object".to_owned(), json!("chat.completion.chunk"));
        chunk.insert("created".to_owned(), json!(self.opts.created));
        chunk.insert("model".to_owned(), json!(self.model));
        chunk.insert("choices".to_owned(), choices);
        chunk
    }

    fn chunk(&self, delta: Value, finish_reason: Value, out: &mut Vec<u8>) {
        let mut chunk = self.envelope(json!([{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason,
        }]));
        if self.opts.include_usage {
            // With include_usage every chunk but the last carries `usage: null`.
            chunk.insert("usage".to_owned(), Value::Null);
        }
        encode_event(out, None, &Value::Object(chunk).to_string());
    }

    /// The wire ordinal of the tool call in IR block `block`, announcing the call first when
    /// its start was never seen.
    fn tool_ordinal(&mut self, block: usize, out: &mut Vec<u8>) -> usize {
        if let Some(&(_, ordinal)) = self.tools.iter().find(|(b, _)| *b == block) {
            return ordinal;
        }
        let id = format!("call_{}_{block}", self.id.trim_start_matches("chatcmpl-"));
        self.tool_start(block, &id, "", out)
    }

    fn tool_start(&mut self, block: usize, id: &str, name: &str, out: &mut Vec<u8>) -> usize {
        let ordinal = self.tools.len();
        self.tools.push((block, ordinal));
        let call = json!({
            "index": ordinal,
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        });
        self.chunk(json!({"tool_calls": [call]}), Value::Null, out);
        ordinal
    }

    fn record_usage(&mut self, usage: &Usage) {
        match &mut self.usage {
            Some(known) => merge_usage(known, usage),
            None => self.usage = Some(*usage),
        }
    }

    fn finish_chunk(&mut self, reason: &StopReason, out: &mut Vec<u8>) {
        if self.finish_sent {
            return;
        }
        self.finish_sent = true;
        let finish_reason = finish_reason_to_openai(reason, !self.tools.is_empty());
        self.chunk(json!({}), json!(finish_reason), out);
    }

    fn error(&mut self, message: &str, error_type: &str, code: Option<&str>, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let spec = ErrorSpec { status: 502, message, error_type: Some(error_type), code, ..Default::default() };
        out.extend(stream_error_event(Dialect::OpenAi, &spec, 0));
    }
}

impl StreamEncode for StreamEncoder {
    fn on_event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => {
                if let Some(usage) = usage {
                    self.record_usage(usage);
                }
                self.start(id, model, out);
            }
            StreamEvent::Error { message, error_type, kind } => {
                // The type in OpenAI's words; the upstream's own word, if it said one, as the code.
                self.error(message, kind.openai_type(), error_type.as_deref(), out);
            }
            StreamEvent::Usage(usage) => self.record_usage(usage),
            other => {
                self.start("", "", out);
                match other {
                    StreamEvent::BlockStart { index, kind: BlockKind::ToolCall { id, name } }
                        if !self.tools.iter().any(|(b, _)| b == index) =>
                    {
                        self.tool_start(*index, id, name, out);
                    }
                    StreamEvent::TextDelta { text, .. } if !text.is_empty() => {
                        self.chunk(json!({"content": text}), Value::Null, out);
                    }
                    StreamEvent::ReasoningDelta { text, .. } if !text.is_empty() => {
                        self.chunk(json!({"reasoning_content": text}), Value::Null, out);
                    }
                    StreamEvent::ToolArgsDelta { index, json } => {
                        let ordinal = self.tool_ordinal(*index, out);
                        if !json.is_empty() {
                            let call = json!({"index": ordinal, "function": {"arguments": json}});
                            self.chunk(json!({"tool_calls": [call]}), Value::Null, out);
                        }
                    }
                    StreamEvent::Finish { reason, .. } => self.finish_chunk(reason, out),
                    _ => {}
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.start("", "", out);
        self.finish_chunk(&StopReason::EndTurn, out);
        self.closed = true;
        if let (true, Some(usage)) = (self.opts.include_usage, &self.usage) {
            let mut chunk = self.envelope(json!([]));
            chunk.insert("usage".to_owned(), usage_to_json(usage));
            encode_event(out, None, &Value::Object(chunk).to_string());
        }
        encode_event(out, None, "[DONE]");
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(message, "upstream_error", Some("stream_interrupted"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::openai::decode::tests::decode_pieces;
    use crate::error_kinds::ErrorKind;

    fn opts(include_usage: bool) -> EncodeOptions {
        EncodeOptions { created: 1_750_000_000, include_usage, ..Default::default() }
    }

    fn encode(opts: EncodeOptions, events: &[StreamEvent]) -> String {
        let mut encoder = StreamEncoder::new(opts);
        let mut out = Vec::new();
        for event in events {
            encoder.on_event(event, &mut out);
        }
        encoder.finish(&mut out);
        encoder.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn payloads(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter(|frame| !frame.is_empty())
            .map(|frame| {
                let data = frame.strip_prefix("data: ").unwrap();
                serde_json::from_str(data).unwrap_or(Value::String(data.to_owned()))
            })
            .collect()
    }

    fn usage() -> Usage {
        Usage { input_tokens: 50, output_tokens: 20, cached_tokens: 10, cache_creation_tokens: 0, reasoning_tokens: 5 }
    }

    fn answer() -> Vec<StreamEvent> {
        vec![
            StreamEvent::Start { id: "msg_01".into(), model: "claude-x".into(), usage: None },
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Reasoning },
            StreamEvent::ReasoningDelta { index: 0, text: "Two lookups.".into() },
            StreamEvent::SignatureDelta { index: 0, signature: "sig".into() },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 1, text: "On it".into() },
            StreamEvent::TextDelta { index: 1, text: ".".into() },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                kind: BlockKind::ToolCall { id: "toolu_a".into(), name: "weather".into() },
            },
            StreamEvent::ToolArgsDelta { index: 2, json: "{\"city\":".into() },
            StreamEvent::ToolArgsDelta { index: 2, json: "\"Oslo\"}".into() },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::BlockStart {
                index: 3,
                kind: BlockKind::ToolCall { id: "toolu_b".into(), name: "time".into() },
            },
            StreamEvent::ToolArgsDelta { index: 3, json: "{}".into() },
            StreamEvent::BlockStop { index: 3 },
            StreamEvent::Finish { reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::Usage(usage()),
        ]
    }

    #[test]
    fn chunks_have_the_sdk_shape() {
        let sse = encode(opts(true), &answer());
        let chunks = payloads(&sse);
        assert_eq!(chunks.len(), 12);
        assert_eq!(
            chunks[0],
            json!({"id": "chatcmpl-msg_01", "object": "chat.completion.chunk", "created": 1_750_000_000u64,
                   "model": "claude-x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                   "logprobs": null, "finish_reason": null}], "usage": null})
        );
        assert_eq!(chunks[1]["choices"][0]["delta"], json!({"reasoning_content": "Two lookups."}));
        assert_eq!(chunks[2]["choices"][0]["delta"], json!({"content": "On it"}));
        assert_eq!(
            chunks[4]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]})
        );
        assert_eq!(
            chunks[5]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})
        );
        assert_eq!(chunks[7]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
        assert_eq!(chunks[9]["choices"][0]["delta"], json!({}));
        assert_eq!(chunks[9]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[10]["choices"], json!([]));
        assert_eq!(chunks[10]["usage"]["total_tokens"], 70);
        assert_eq!(chunks[11], json!("[DONE]"));
        assert!(sse.ends_with("data: [DONE]\n\n"));
        assert_eq!(sse.matches("[DONE]").count(), 1);
        for chunk in &chunks[..10] {
            assert_eq!((&chunk["id"], &chunk["created"]), (&chunks[0]["id"], &chunks[0]["created"]));
        }
    }

    #[test]
    fn own_output_decodes_back_to_the_same_events() {
        let sse = encode(opts(true), &answer());
        let (decoded, complete) = decode_pieces(&[sse.as_bytes()]);
        assert!(complete);
        let expected: Vec<StreamEvent> = answer()
            .into_iter()
            .filter(|e| !matches!(e, StreamEvent::SignatureDelta { .. }))
            .map(|e| match e {
                StreamEvent::Start { model, usage, .. } => {
                    StreamEvent::Start { id: "chatcmpl-msg_01".into(), model, usage }
                }
                other => other,
            })
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn early_usage_is_merged_into_the_usage_chunk_and_withheld_unless_asked() {
        // Anthropic-style: input counts at the start, output counts before the finish.
        let events = [
            StreamEvent::Start {
                id: "chatcmpl-1".into(),
                model: "m".into(),
                usage: Some(Usage { input_tokens: 7, ..Default::default() }),
            },
            StreamEvent::TextDelta { index: 0, text: "hi".into() },
            StreamEvent::Usage(Usage { output_tokens: 2, ..Default::default() }),
            StreamEvent::Finish { reason: StopReason::EndTurn, stop_sequence: None },
        ];
        let chunks = payloads(&encode(opts(true), &events));
        let last_usage = &chunks[chunks.len() - 2]["usage"];
        assert_eq!((&last_usage["prompt_tokens"], &last_usage["completion_tokens"]), (&json!(7), &json!(2)));
        let plain = encode(opts(false), &events);
        assert!(!plain.contains("usage"));
        assert!(plain.ends_with("\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"));
    }

    #[test]
    fn out_of_order_events_are_tolerated() {
        let opts =
            EncodeOptions { response_id: Some("chatcmpl-gw".into()), model: Some("alias".into()), ..opts(false) };
        let events = [
            StreamEvent::ToolArgsDelta { index: 4, json: "{}".into() },
            StreamEvent::Start { id: "ignored".into(), model: "ignored".into(), usage: None },
            StreamEvent::EncryptedReasoning { index: 0, data: "opaque".into() },
        ];
        let chunks = payloads(&encode(opts, &events));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[0]["id"], "chatcmpl-gw");
        assert_eq!(chunks[0]["model"], "alias");
        let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!((&call["index"], &call["id"]), (&json!(0), &json!("call_gw_4")));
        assert_eq!(chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], "{}");
        // No Finish came: finish() still ends with a finish reason, then [DONE].
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[4], json!("[DONE]"));
        assert_eq!(chunks.len(), 5);
    }

    #[test]
    fn failure_writes_an_error_and_nothing_after_it() {
        let mut encoder = StreamEncoder::new(opts(true));
        let mut out = Vec::new();
        encoder.on_event(&StreamEvent::TextDelta { index: 0, text: "part".into() }, &mut out);
        encoder.fail("upstream went away", &mut out);
        encoder.fail("again", &mut out);
        encoder.on_event(&StreamEvent::TextDelta { index: 0, text: "late".into() }, &mut out);
        encoder.finish(&mut out);
        let sse = String::from_utf8(out).unwrap();
        let chunks = payloads(&sse);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2]["error"]["message"], "upstream went away");
        assert_eq!(chunks[2]["error"]["code"], "stream_interrupted");
        assert!(!sse.contains("[DONE]") && !sse.contains("late"));
    }

    #[test]
    fn upstream_error_event_is_written_in_band_in_openai_words() {
        let events = [
            StreamEvent::Start { id: "chatcmpl-1".into(), model: "m".into(), usage: None },
            StreamEvent::Error {
                message: "overloaded".into(),
                error_type: Some("overloaded_error".into()),
                kind: ErrorKind::Unavailable,
            },
        ];
        let sse = encode(opts(false), &events);
        let chunks = payloads(&sse);
        assert_eq!(chunks.len(), 2);
        // OpenAI's type for the kind; the upstream's own word as the code.
        assert_eq!(chunks[1]["error"]["type"], "server_error");
        assert_eq!(chunks[1]["error"]["code"], "overloaded_error");
        assert!(!sse.contains("[DONE]"));
    }
}
