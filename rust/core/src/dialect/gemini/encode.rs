//! IR stream events -> `streamGenerateContent?alt=sse` frames: `data: <chunk>` per text or
//! thought delta, one chunk per function call once its arguments are whole, and a last chunk
//! with `finishReason` and `usageMetadata` written by `finish()`. Failures end the stream with
//! Gemini's in-band `{"error": ...}` frame.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{finish_reason, parse_args, write_usage};
use crate::dialect::{Dialect, EncodeOptions, StreamEncode};
use crate::error_body::{stream_error_event, ErrorSpec};
use crate::ir::{merge_usage, BlockKind, StopReason, StreamEvent};
use crate::rpc_status;
use crate::sse::encode_event;
use crate::usage::Usage;

#[derive(Debug)]
enum Block {
    Text,
    Reasoning,
    Call {
        id: String,
        name: String,
        args: String,
        signature: Option<String>,
        sent: bool,
    },
    /// Redacted reasoning: nothing Gemini can show.
    Opaque,
}

#[derive(Debug)]
pub struct StreamEncoder {
    opts: EncodeOptions,
    id: String,
    model: String,
    blocks: BTreeMap<usize, Block>,
    usage: Option<Usage>,
    reason: Option<StopReason>,
    done: bool,
}

/// HTTP status for a Google RPC status name (the in-band error body carries both).
fn http_status(status: Option<&str>) -> u16 {
    status.and_then(rpc_status::http_status).unwrap_or(500)
}

impl StreamEncoder {
    pub fn new(opts: EncodeOptions) -> Self {
        StreamEncoder {
            id: opts.response_id.clone().unwrap_or_default(),
            model: opts.model.clone().unwrap_or_default(),
            opts,
            blocks: BTreeMap::new(),
            usage: None,
            reason: None,
            done: false,
        }
    }

    fn signatures(&self) -> bool {
        self.opts.upstream == Some(Dialect::Gemini)
    }

    fn frame(&self, parts: Vec<Value>, finish: Option<&str>, out: &mut Vec<u8>) {
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"role": "model", "parts": parts}));
        if let Some(reason) = finish {
            candidate.insert("finishReason".into(), json!(reason));
        }
        candidate.insert("index".into(), json!(0));
        let mut chunk = Map::new();
        chunk.insert("candidates".into(), json!([candidate]));
        if finish.is_some() {
            if let Some(usage) = &self.usage {
                chunk.insert("usageMetadata".into(), write_usage(usage));
            }
        }
        if !self.model.is_empty() {
            chunk.insert("modelVersion".into(), json!(self.model));
        }
        if !self.id.is_empty() {
            chunk.insert("responseId".into(), json!(self.id));
        }
        encode_event(out, None, &Value::Object(chunk).to_string());
    }

    fn send_call(&mut self, index: usize, out: &mut Vec<u8>) {
        let signatures = self.signatures();
        let Some(Block::Call { id, name, args, signature, sent }) = self.blocks.get_mut(&index) else {
            return;
        };
        if *sent {
            return;
        }
        *sent = true;
        let mut call = json!({"name": name, "args": parse_args(args)});
        if !id.is_empty() {
            call["id"] = json!(id);
        }
        let mut part = json!({"functionCall": call});
        if let Some(signature) = signature.as_ref().filter(|_| signatures) {
            part["thoughtSignature"] = json!(signature);
        }
        self.frame(vec![part], None, out);
    }

    fn error(&mut self, message: &str, error_type: Option<&str>, status: u16, out: &mut Vec<u8>) {
        let spec = ErrorSpec { status, message, error_type, ..Default::default() };
        out.extend_from_slice(&stream_error_event(Dialect::Gemini, &spec, 0));
        self.done = true;
    }
}

impl StreamEncode for StreamEncoder {
    fn on_event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => {
                if self.opts.response_id.is_none() {
                    self.id = id.clone();
                }
                if self.opts.model.is_none() {
                    self.model = model.clone();
                }
                if let Some(usage) = usage {
                    merge_usage(self.usage.get_or_insert_with(Usage::default), usage);
                }
            }
            StreamEvent::BlockStart { index, kind } => {
                let block = match kind {
                    BlockKind::Text => Block::Text,
                    BlockKind::Reasoning => Block::Reasoning,
                    BlockKind::RedactedReasoning { .. } => Block::Opaque,
                    BlockKind::ToolCall { id, name } => Block::Call {
                        id: id.clone(),
                        name: name.clone(),
                        args: String::new(),
                        signature: None,
                        sent: false,
                    },
                };
                self.blocks.insert(*index, block);
            }
            StreamEvent::TextDelta { index, text } => {
                self.blocks.entry(*index).or_insert(Block::Text);
                if !text.is_empty() {
                    self.frame(vec![json!({"text": text})], None, out);
                }
            }
            StreamEvent::ReasoningDelta { index, text } => {
                self.blocks.entry(*index).or_insert(Block::Reasoning);
                if !text.is_empty() {
                    self.frame(vec![json!({"text": text, "thought": true})], None, out);
                }
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if !self.signatures() {
                    return;
                }
                let part = match self.blocks.get_mut(index) {
                    Some(Block::Call { signature: slot, sent: false, .. }) => {
                        *slot = Some(signature.clone());
                        return;
                    }
                    Some(Block::Call { .. } | Block::Opaque) => return,
                    Some(Block::Reasoning) => {
                        json!({"text": "", "thought": true, "thoughtSignature": signature})
                    }
                    Some(Block::Text) | None => json!({"text": "", "thoughtSignature": signature}),
                };
                self.frame(vec![part], None, out);
            }
            StreamEvent::EncryptedReasoning { .. } => {}
            StreamEvent::ToolArgsDelta { index, json } => {
                let block = self.blocks.entry(*index).or_insert_with(|| Block::Call {
                    id: String::new(),
                    name: String::new(),
                    args: String::new(),
                    signature: None,
                    sent: false,
                });
                if let Block::Call { args, sent: false, .. } = block {
                    args.push_str(json);
                }
            }
            StreamEvent::BlockStop { index } => self.send_call(*index, out),
            StreamEvent::Usage(usage) => merge_usage(self.usage.get_or_insert_with(Usage::default), usage),
            StreamEvent::Finish { reason, .. } => self.reason = Some(reason.clone()),
            StreamEvent::Error { message, error_type, kind } => {
                let name = kind.rpc_status_for(error_type.as_deref());
                self.error(message, Some(name), http_status(Some(name)), out);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let unsent: Vec<usize> =
            self.blocks.iter().filter(|(_, b)| matches!(b, Block::Call { sent: false, .. })).map(|(i, _)| *i).collect();
        for index in unsent {
            self.send_call(index, out);
        }
        let reason = finish_reason(self.reason.as_ref().unwrap_or(&StopReason::EndTurn));
        self.frame(vec![json!({"text": ""})], Some(&reason), out);
        self.done = true;
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if !self.done {
            self.error(message, None, 502, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::gemini::test_support::{decode, fixture};
    use crate::error_kinds::ErrorKind;

    fn encode(events: &[StreamEvent], opts: EncodeOptions) -> Vec<u8> {
        let mut encoder = StreamEncoder::new(opts);
        let mut out = Vec::new();
        for event in events {
            encoder.on_event(event, &mut out);
        }
        encoder.finish(&mut out);
        encoder.finish(&mut out);
        out
    }

    #[test]
    fn encoder_output_decodes_back_to_the_same_events() {
        let gemini = EncodeOptions { upstream: Some(Dialect::Gemini), ..Default::default() };
        for name in ["stream_thinking_text.sse", "stream_function_call.sse"] {
            let (events, _) = decode(fixture(name).as_bytes());
            let bytes = encode(&events, gemini.clone());
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(!text.contains("event:") && !text.contains("[DONE]"));
            let (back, complete) = decode(&bytes);
            assert!(complete);
            // Usage is reported once, at the end; everything else comes back as it was.
            let strip = |events: &[StreamEvent]| -> Vec<StreamEvent> {
                events.iter().filter(|e| !matches!(e, StreamEvent::Usage(_))).cloned().collect()
            };
            assert_eq!(strip(&back), strip(&events), "{name}");
            assert_eq!(back.iter().rev().nth(1), events.iter().rev().nth(1), "{name}");
        }
    }

    #[test]
    fn encoder_writes_gemini_chunks() {
        let events = vec![
            StreamEvent::Start { id: "chatcmpl-1".into(), model: "gpt-4o".into(), usage: None },
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Reasoning },
            StreamEvent::ReasoningDelta { index: 0, text: "hmm".into() },
            StreamEvent::SignatureDelta { index: 0, signature: "anthropic-sig".into() },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::ToolCall { id: "call_a".into(), name: "f".into() } },
            StreamEvent::ToolArgsDelta { index: 1, json: "{\"x\":".into() },
            StreamEvent::ToolArgsDelta { index: 1, json: "1}".into() },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish { reason: StopReason::ToolUse, stop_sequence: None },
            StreamEvent::Usage(Usage { input_tokens: 5, output_tokens: 9, reasoning_tokens: 2, ..Default::default() }),
        ];
        let opts = EncodeOptions {
            upstream: Some(Dialect::Anthropic),
            model: Some("gemini-2.5-pro".into()),
            ..Default::default()
        };
        let bytes = encode(&events, opts);
        let text = String::from_utf8(bytes).unwrap();
        let frames: Vec<Value> = text
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        assert_eq!(
            frames,
            vec![
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hmm", "thought": true}]}, "index": 0}],
                       "modelVersion": "gemini-2.5-pro", "responseId": "chatcmpl-1"}),
                json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"x": 1}, "id": "call_a"}}]}, "index": 0}],
                       "modelVersion": "gemini-2.5-pro", "responseId": "chatcmpl-1"}),
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
                       "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "thoughtsTokenCount": 2, "totalTokenCount": 14},
                       "modelVersion": "gemini-2.5-pro", "responseId": "chatcmpl-1"}),
            ]
        );
    }

    #[test]
    fn encoder_tolerates_missing_starts_and_stops() {
        let events = vec![
            StreamEvent::TextDelta { index: 0, text: "hi".into() },
            StreamEvent::ToolArgsDelta { index: 1, json: "not json".into() },
            StreamEvent::Finish { reason: StopReason::MaxTokens, stop_sequence: None },
        ];
        let (back, complete) = decode(&encode(&events, EncodeOptions::default()));
        assert!(complete);
        assert!(matches!(&back[..], [
            StreamEvent::Start { .. },
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 0, .. },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::ToolCall { .. } },
            StreamEvent::ToolArgsDelta { index: 1, json },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish { reason: StopReason::MaxTokens, .. },
        ] if json == "{}"));
    }

    #[test]
    fn encoder_fail_and_upstream_error_end_the_stream() {
        let mut encoder = StreamEncoder::new(EncodeOptions::default());
        let mut out = Vec::new();
        encoder.on_event(&StreamEvent::TextDelta { index: 0, text: "partial".into() }, &mut out);
        encoder.fail("upstream connection lost", &mut out);
        let after = out.len();
        encoder.on_event(&StreamEvent::TextDelta { index: 0, text: "more".into() }, &mut out);
        encoder.finish(&mut out);
        encoder.fail("again", &mut out);
        assert_eq!(out.len(), after);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with(
            "data: {\"error\":{\"code\":502,\"message\":\"upstream connection lost\",\"status\":\"UNAVAILABLE\"}}\n\n"
        ));

        let mut encoder = StreamEncoder::new(EncodeOptions::default());
        let mut out = Vec::new();
        let error = StreamEvent::Error {
            message: "quota".into(),
            error_type: Some("RESOURCE_EXHAUSTED".into()),
            kind: ErrorKind::RateLimited,
        };
        encoder.on_event(&error, &mut out);
        encoder.finish(&mut out);
        let (events, complete) = decode(&out);
        assert!(!complete);
        assert_eq!(
            events,
            vec![StreamEvent::Error {
                message: "quota".into(),
                error_type: Some("RESOURCE_EXHAUSTED".into()),
                kind: ErrorKind::RateLimited
            }]
        );
    }
}
