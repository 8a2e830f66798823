//! `streamGenerateContent?alt=sse` -> IR stream events. Every `data:` frame is a whole
//! `GenerateContentResponse` chunk (no event names, no `[DONE]`); the last one carries
//! `finishReason` and the final `usageMetadata`. A run of text or thought parts stays one block
//! until another kind of part arrives; each function call is a block of its own.

use serde_json::Value;

use super::{call_prefix, read_error, read_part, read_usage, stop_reason, CallLedger, ReadPart, Source};
use crate::dialect::StreamDecode;
use crate::error::{CoreError, CoreResult};
use crate::error_kinds::classify;
use crate::ir::{BlockKind, Part, StopReason, StreamEvent};
use crate::sse::SseEvent;
use crate::usage::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunKind {
    Text,
    Reasoning,
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    complete: bool,
    next_index: usize,
    /// The text or thought block still open, continued by the next part of the same kind.
    open: Option<(usize, RunKind)>,
    saw_calls: bool,
    calls: CallLedger,
    last_usage: Option<Usage>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// The open block of `kind`, starting one (and closing another kind) when needed.
    fn run(&mut self, kind: RunKind, out: &mut Vec<StreamEvent>) -> usize {
        match self.open {
            Some((index, open)) if open == kind => index,
            _ => {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                let block = match kind {
                    RunKind::Text => BlockKind::Text,
                    RunKind::Reasoning => BlockKind::Reasoning,
                };
                out.push(StreamEvent::BlockStart { index, kind: block });
                self.open = Some((index, kind));
                index
            }
        }
    }

    fn usage(&mut self, metadata: Option<&Value>, out: &mut Vec<StreamEvent>) {
        let Some(usage) = metadata.and_then(read_usage) else {
            return;
        };
        if self.last_usage != Some(usage) {
            self.last_usage = Some(usage);
            out.push(StreamEvent::Usage(usage));
        }
    }

    fn part(&mut self, part: &Value, field: &str, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let Some(obj) = part.as_object() else {
            return Err(CoreError::upstream(format!("gemini {field} is not an object")));
        };
        if obj.contains_key("functionCall") {
            let ReadPart::Parts(parts) = read_part(part, field, Source::Upstream, &mut self.calls, 0)? else {
                return Ok(());
            };
            for read in parts {
                if let Part::ToolCall { id, name, arguments, signature } = read {
                    self.close(out);
                    let index = self.next_index;
                    self.next_index += 1;
                    self.saw_calls = true;
                    out.push(StreamEvent::BlockStart { index, kind: BlockKind::ToolCall { id, name } });
                    out.push(StreamEvent::ToolArgsDelta { index, json: arguments });
                    if let Some(signature) = signature {
                        out.push(StreamEvent::SignatureDelta { index, signature });
                    }
                    out.push(StreamEvent::BlockStop { index });
                }
            }
            return Ok(());
        }
        let signature = match obj.get("thoughtSignature") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(CoreError::upstream(format!("gemini {field}.thoughtSignature is not a string"))),
        };
        let text = match obj.get("text") {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(CoreError::upstream(format!("gemini {field}.text is not a string"))),
        };
        let kind =
            if obj.get("thought").and_then(Value::as_bool) == Some(true) { RunKind::Reasoning } else { RunKind::Text };
        if text.is_empty() {
            // An empty part that only carries a signature belongs to the block it follows.
            if let Some(signature) = signature {
                let index = match self.open {
                    Some((index, _)) => index,
                    None if obj.contains_key("text") => self.run(kind, out),
                    None => self.run(RunKind::Reasoning, out),
                };
                out.push(StreamEvent::SignatureDelta { index, signature });
            }
            return Ok(());
        }
        let index = self.run(kind, out);
        out.push(match kind {
            RunKind::Text => StreamEvent::TextDelta { index, text: text.to_owned() },
            RunKind::Reasoning => StreamEvent::ReasoningDelta { index, text: text.to_owned() },
        });
        if let Some(signature) = signature {
            out.push(StreamEvent::SignatureDelta { index, signature });
        }
        Ok(())
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let Some(obj) = chunk.as_object() else {
            return Err(CoreError::upstream("gemini stream chunk is not a JSON object"));
        };
        if let Some(error) = obj.get("error").filter(|e| !e.is_null()) {
            let (message, error_type) = read_error(error);
            let kind = classify(&[error_type.as_deref()], error.get("code").and_then(Value::as_u64)).0;
            self.close(out);
            out.push(StreamEvent::Error { message, error_type, kind });
            return Ok(());
        }
        if !self.started {
            self.started = true;
            let id = obj.get("responseId").and_then(Value::as_str).unwrap_or_default();
            let model = obj.get("modelVersion").and_then(Value::as_str).unwrap_or_default();
            self.calls = CallLedger::new(call_prefix(id));
            out.push(StreamEvent::Start { id: id.to_owned(), model: model.to_owned(), usage: None });
        }
        if self.complete {
            self.usage(obj.get("usageMetadata"), out);
            return Ok(());
        }
        let candidate = match obj.get("candidates") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => list.first(),
            Some(_) => return Err(CoreError::upstream("gemini stream chunk candidates is not an array")),
        };
        let mut finish = None;
        if let Some(candidate) = candidate {
            match candidate.get("content").and_then(|c| c.get("parts")) {
                None | Some(Value::Null) => {}
                Some(Value::Array(parts)) => {
                    for (j, part) in parts.iter().enumerate() {
                        self.part(part, &format!("candidates[0].content.parts[{j}]"), out)?;
                    }
                }
                Some(_) => return Err(CoreError::upstream("gemini candidates[0].content.parts is not an array")),
            }
            finish = candidate
                .get("finishReason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty() && *r != "FINISH_REASON_UNSPECIFIED")
                .map(|r| stop_reason(r, self.saw_calls));
        } else if obj.get("promptFeedback").and_then(|f| f.get("blockReason")).is_some() {
            finish = Some(StopReason::ContentFilter);
        }
        if finish.is_some() {
            self.close(out);
        }
        self.usage(obj.get("usageMetadata"), out);
        if let Some(reason) = finish {
            self.complete = true;
            out.push(StreamEvent::Finish { reason, stop_sequence: None });
        }
        Ok(())
    }
}

impl StreamDecode for StreamDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let value: Value = serde_json::from_str(data)
            .map_err(|e| CoreError::upstream(format!("gemini stream chunk is not valid JSON: {e}")))?;
        match &value {
            // Without `alt=sse` Gemini streams one JSON array; tolerate it inside a frame too.
            Value::Array(chunks) => chunks.iter().try_for_each(|chunk| self.chunk(chunk, out)),
            chunk => self.chunk(chunk, out),
        }
    }

    fn is_complete(&self) -> bool {
        self.complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::gemini::test_support::{decode, decode_chunks, fixture};
    use crate::error_kinds::ErrorKind;

    fn usage(input: u64, output: u64, cached: u64, reasoning: u64) -> StreamEvent {
        StreamEvent::Usage(Usage {
            input_tokens: input,
            output_tokens: output,
            cached_tokens: cached,
            cache_creation_tokens: 0,
            reasoning_tokens: reasoning,
        })
    }

    #[test]
    fn thinking_then_text_stream_decodes_to_blocks() {
        let (events, complete) = decode(fixture("stream_thinking_text.sse").as_bytes());
        assert!(complete);
        assert_eq!(
            events,
            vec![
                StreamEvent::Start {
                    id: "Xq22aM3lFeWQ1dkP9JqR-Qs".into(),
                    model: "gemini-2.5-flash".into(),
                    usage: None
                },
                StreamEvent::BlockStart { index: 0, kind: BlockKind::Reasoning },
                StreamEvent::ReasoningDelta {
                    index: 0,
                    text: "**Planning the haiku**\n\nThree lines, five-seven-five, about autumn.".into()
                },
                usage(12, 58, 0, 58),
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::BlockStart { index: 1, kind: BlockKind::Text },
                StreamEvent::TextDelta { index: 1, text: "Autumn moonlight—\na worm digs silently\n".into() },
                usage(12, 69, 0, 58),
                StreamEvent::TextDelta { index: 1, text: "into the chestnut.".into() },
                StreamEvent::SignatureDelta { index: 1, signature: "CtwBAdHtim9XkL0r".into() },
                StreamEvent::BlockStop { index: 1 },
                usage(12, 74, 0, 58),
                StreamEvent::Finish { reason: StopReason::EndTurn, stop_sequence: None },
            ]
        );
    }

    #[test]
    fn function_call_stream_decodes_with_signature_and_tool_use() {
        let (events, complete) = decode(fixture("stream_function_call.sse").as_bytes());
        assert!(complete);
        let id0 = "call_Zr22aJ7cG_2Q1dkP3bXk8Q4_0".to_owned();
        assert_eq!(
            events,
            vec![
                StreamEvent::Start {
                    id: "Zr22aJ7cG_2Q1dkP3bXk8Q4".into(),
                    model: "gemini-3-pro-preview".into(),
                    usage: None
                },
                StreamEvent::BlockStart {
                    index: 0,
                    kind: BlockKind::ToolCall { id: id0, name: "list_directory".into() }
                },
                StreamEvent::ToolArgsDelta { index: 0, json: r#"{"path":"/home/user/project"}"#.into() },
                StreamEvent::SignatureDelta { index: 0, signature: "CiwBVKhc7nT4hXb2rQ==".into() },
                StreamEvent::BlockStop { index: 0 },
                usage(1021, 136, 0, 118),
                StreamEvent::BlockStart {
                    index: 1,
                    kind: BlockKind::ToolCall { id: "call_Zr22aJ7cG_2Q1dkP3bXk8Q4_1".into(), name: "read_file".into() }
                },
                StreamEvent::ToolArgsDelta {
                    index: 1,
                    json: r#"{"absolute_path":"/home/user/project/README.md"}"#.into()
                },
                StreamEvent::BlockStop { index: 1 },
                usage(1021, 151, 512, 118),
                StreamEvent::Finish { reason: StopReason::ToolUse, stop_sequence: None },
            ]
        );
    }

    #[test]
    fn splitting_the_stream_anywhere_gives_the_same_events() {
        let bytes = fixture("stream_function_call.sse").into_bytes();
        let whole = decode(&bytes);
        for cut in (1..bytes.len()).step_by(7) {
            assert_eq!(decode_chunks(&[&bytes[..cut], &bytes[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn decoder_reports_in_band_errors_and_blocked_prompts() {
        let (events, complete) = decode(
            b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"responseId\":\"r\"}\n\n\
              data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\n\n",
        );
        assert!(!complete);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Error {
                message: "The model is overloaded.".into(),
                error_type: Some("UNAVAILABLE".into()),
                kind: ErrorKind::Unavailable,
            })
        );
        assert!(events.contains(&StreamEvent::BlockStop { index: 0 }));

        let (events, complete) = decode(
            b"data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":7}}\n\n",
        );
        assert!(complete);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finish { reason: StopReason::ContentFilter, stop_sequence: None })
        );
    }

    #[test]
    fn decoder_rejects_malformed_chunks_without_panicking() {
        for data in [
            "not json",
            "3",
            "{\"candidates\":{}}",
            "{\"candidates\":[{\"content\":{\"parts\":7}}]}",
            "{\"candidates\":[{\"content\":{\"parts\":[7]}}]}",
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":1}]}}]}",
            "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[]}}]}}]}",
        ] {
            let mut decoder = StreamDecoder::new();
            let event = SseEvent { data: data.into(), ..Default::default() };
            assert!(
                matches!(decoder.on_event(&event, &mut Vec::new()), Err(CoreError::UpstreamProtocol { .. })),
                "{data}"
            );
        }
        let mut decoder = StreamDecoder::new();
        for data in [
            "",
            "[DONE]",
            "[]",
            "{}",
            "{\"candidates\":[]}",
            "{\"candidates\":[{}]}",
            "[{\"candidates\":[{\"finishReason\":\"STOP\"}]}]",
        ] {
            let event = SseEvent { data: data.into(), ..Default::default() };
            decoder.on_event(&event, &mut Vec::new()).unwrap();
        }
        assert!(decoder.is_complete());
    }
}
