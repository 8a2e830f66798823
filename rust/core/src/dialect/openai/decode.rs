//! Chat Completions SSE chunks to IR stream events.
//!
//! The wire is flat (deltas of content, reasoning and tool calls); the decoder synthesises
//! blocks. A change of kind closes the open block. Tool calls are addressed by their delta
//! `index`, so several may be open at once when an upstream interleaves them; a new call closes
//! the earlier calls whose arguments already form complete JSON, which keeps the usual
//! one-call-after-another streams strictly sequential. Content goes through the `<think>`
//! splitter. The stream is complete at `[DONE]` or once a finish reason arrived.

use serde_json::Value;

use super::response::{error_message, finish};
use super::str_field;
use super::think::{Segment, ThinkSplitter};
use crate::dialect::StreamDecode;
use crate::error::{CoreError, CoreResult};
use crate::error_kinds::classify;
use crate::ir::{BlockKind, StopReason, StreamEvent};
use crate::sse::SseEvent;

/// Key of the legacy `function_call` delta among tool-call indexes.
const LEGACY_FUNCTION_KEY: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlatKind {
    Text,
    Reasoning,
}

#[derive(Debug)]
struct ToolBlock {
    /// The delta `index` of the call.
    key: u64,
    block: usize,
    id: String,
    arguments: String,
    open: bool,
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// A finish reason arrived (later choices are ignored; usage may still come).
    finished: bool,
    /// `[DONE]` arrived.
    done: bool,
    /// The upstream reported an error: the stream is over without completing.
    failed: bool,
    next_block: usize,
    /// The open text or reasoning block.
    flat: Option<(FlatKind, usize)>,
    tools: Vec<ToolBlock>,
    splitter: ThinkSplitter,
    called_tools: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn open_block(&mut self, kind: BlockKind, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next_block;
        self.next_block += 1;
        out.push(StreamEvent::BlockStart { index, kind });
        index
    }

    fn close_flat(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.flat.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// Closes the open tool blocks, all of them or those whose arguments are complete JSON.
    fn close_tools(&mut self, only_complete: bool, out: &mut Vec<StreamEvent>) {
        for tool in self.tools.iter_mut().filter(|t| t.open) {
            if !only_complete || serde_json::from_str::<serde::de::IgnoredAny>(&tool.arguments).is_ok() {
                tool.open = false;
                out.push(StreamEvent::BlockStop { index: tool.block });
            }
        }
    }

    fn flat_delta(&mut self, kind: FlatKind, text: String, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        let index = match self.flat {
            Some((open, index)) if open == kind => index,
            _ => {
                self.close_flat(out);
                self.close_tools(false, out);
                let block_kind = match kind {
                    FlatKind::Text => BlockKind::Text,
                    FlatKind::Reasoning => BlockKind::Reasoning,
                };
                let index = self.open_block(block_kind, out);
                self.flat = Some((kind, index));
                index
            }
        };
        out.push(match kind {
            FlatKind::Text => StreamEvent::TextDelta { index, text },
            FlatKind::Reasoning => StreamEvent::ReasoningDelta { index, text },
        });
    }

    fn segments(&mut self, segments: Vec<Segment>, out: &mut Vec<StreamEvent>) {
        for segment in segments {
            match segment {
                Segment::Text(text) => self.flat_delta(FlatKind::Text, text, out),
                Segment::Reasoning(text) => self.flat_delta(FlatKind::Reasoning, text, out),
            }
        }
    }

    fn tool_delta(&mut self, key: u64, call: &Value, out: &mut Vec<StreamEvent>) {
        let id = str_field(call, "id").filter(|id| !id.is_empty());
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = str_field(function, "name").filter(|name| !name.is_empty());
        let arguments = match function.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        let current = self.tools.iter().position(|t| t.key == key && t.open);
        let starts_call = match current {
            None => true,
            // Some providers give every call index 0: a new id is a new call.
            Some(pos) => id.is_some_and(|id| self.tools.get(pos).is_some_and(|t| t.id != id)),
        };
        let pos = if starts_call {
            if id.is_none() && name.is_none() && self.tools.iter().any(|t| t.key == key) {
                // More arguments for a call already closed (text came in between): there is
                // no block left to put them in.
                return;
            }
            self.close_flat(out);
            if let Some(pos) = current {
                if let Some(tool) = self.tools.get_mut(pos) {
                    tool.open = false;
                    out.push(StreamEvent::BlockStop { index: tool.block });
                }
            }
            self.close_tools(true, out);
            let block = self.next_block;
            let id = id.map_or_else(|| format!("call_{block}"), str::to_owned);
            self.open_block(BlockKind::ToolCall { id: id.clone(), name: name.unwrap_or_default().to_owned() }, out);
            self.called_tools = true;
            self.tools.push(ToolBlock { key, block, id, arguments: String::new(), open: true });
            self.tools.len() - 1
        } else {
            current.unwrap_or_default()
        };
        if let (false, Some(tool)) = (arguments.is_empty(), self.tools.get_mut(pos)) {
            tool.arguments.push_str(&arguments);
            out.push(StreamEvent::ToolArgsDelta { index: tool.block, json: arguments });
        }
    }

    fn delta(&mut self, delta: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let reasoning =
            str_field(delta, "reasoning_content").filter(|r| !r.is_empty()).or_else(|| str_field(delta, "reasoning"));
        if let Some(text) = reasoning {
            self.flat_delta(FlatKind::Reasoning, text.to_owned(), out);
        }
        if let Some(content) = str_field(delta, "content") {
            let mut segments = Vec::new();
            self.splitter.push(content, &mut segments);
            self.segments(segments, out);
        }
        if let Some(refusal) = str_field(delta, "refusal") {
            self.flat_delta(FlatKind::Text, refusal.to_owned(), out);
        }
        match delta.get("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (position, call) in calls.iter().enumerate() {
                    let key = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
                    self.tool_delta(key, call, out);
                }
            }
            Some(_) => return Err(CoreError::upstream("stream delta 'tool_calls' is not an array")),
        }
        if let Some(call) = delta.get("function_call").filter(|c| c.is_object()) {
            let call = serde_json::json!({"function": call});
            self.tool_delta(LEGACY_FUNCTION_KEY, &call, out);
        }
        Ok(())
    }

    /// Releases held-back content, closes every block and reports the finish.
    fn finish(&mut self, reason: StopReason, stop_sequence: Option<String>, out: &mut Vec<StreamEvent>) {
        let mut segments = Vec::new();
        self.splitter.finish(&mut segments);
        self.segments(segments, out);
        self.close_flat(out);
        self.close_tools(false, out);
        self.finished = true;
        out.push(StreamEvent::Finish { reason, stop_sequence });
    }
}

impl StreamDecode for StreamDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let data = event.data.trim();
        if data.is_empty() || self.done || self.failed {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = true;
            if !self.finished {
                let reason = if self.called_tools { StopReason::ToolUse } else { StopReason::EndTurn };
                self.finish(reason, None, out);
            }
            return Ok(());
        }
        if self.started && !self.finished {
            if let Some(content) = plain::content_delta(data) {
                // The common chunk (text only, no finish, usage or error), without a JSON tree.
                if let Some(content) = content {
                    let mut segments = Vec::new();
                    self.splitter.push(&content, &mut segments);
                    self.segments(segments, out);
                }
                return Ok(());
            }
        }
        let value: Value = serde_json::from_str(data)
            .map_err(|e| CoreError::upstream(format!("upstream stream event is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(CoreError::upstream("upstream stream event is not a JSON object"));
        }
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            // OpenAI's `code` is the specific one (`invalid_api_key` under type
            // `invalid_request_error`, `rate_limit_exceeded` under type `requests`).
            let words = [str_field(error, "code"), str_field(error, "type")];
            let (kind, word) = classify(&words, error.get("code").and_then(Value::as_u64));
            out.push(StreamEvent::Error { message: error_message(error), error_type: word.map(str::to_owned), kind });
            self.failed = true;
            return Ok(());
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: str_field(&value, "id").unwrap_or_default().to_owned(),
                model: str_field(&value, "model").unwrap_or_default().to_owned(),
                usage: None,
            });
        }
        let mut finish_choice = None;
        match value.get("choices") {
            None | Some(Value::Null) => {}
            Some(Value::Array(choices)) if !self.finished => {
                let first = choices.iter().find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0);
                if let Some(choice) = first {
                    if let Some(delta) = choice.get("delta").filter(|d| !d.is_null()) {
                        self.delta(delta, out)?;
                    }
                    if str_field(choice, "finish_reason").is_some() {
                        finish_choice = Some(choice);
                    }
                }
            }
            Some(Value::Array(_)) => {}
            Some(_) => return Err(CoreError::upstream("stream chunk 'choices' is not an array")),
        }
        if let Some(usage) = value.get("usage").and_then(super::read_usage) {
            out.push(StreamEvent::Usage(usage));
        }
        if let Some(choice) = finish_choice {
            let (reason, stop_sequence) = finish(choice, self.called_tools);
            self.finish(reason, stop_sequence, out);
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        !self.failed && (self.done || self.finished)
    }
}

/// The fast reading of the most common chunk: one choice (index 0) whose delta carries content
/// and perhaps a role, nothing else that the full path acts on.
mod plain {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow)]
        choices: Option<Vec<Choice<'a>>>,
        #[serde(borrow)]
        usage: Option<&'a RawValue>,
        #[serde(borrow)]
        error: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    struct Choice<'a> {
        index: Option<u64>,
        #[serde(borrow)]
        delta: Option<Delta<'a>>,
        #[serde(borrow)]
        finish_reason: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    struct Delta<'a> {
        #[serde(borrow)]
        content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        reasoning_content: Option<&'a RawValue>,
        #[serde(borrow)]
        reasoning: Option<&'a RawValue>,
        #[serde(borrow)]
        refusal: Option<&'a RawValue>,
        #[serde(borrow)]
        tool_calls: Option<&'a RawValue>,
        #[serde(borrow)]
        function_call: Option<&'a RawValue>,
    }

    /// `Some(content)` (the delta's text, if any) for a plain chunk; `None` sends the chunk to
    /// the full path (anything else present, a duplicate key, a non-string content, bad JSON).
    pub(super) fn content_delta(data: &str) -> Option<Option<Cow<'_, str>>> {
        if !data.starts_with('{') {
            return None; // serde would also read a struct from an array
        }
        let chunk: Chunk<'_> = serde_json::from_str(data).ok()?;
        if chunk.usage.is_some() || chunk.error.is_some() {
            return None;
        }
        let mut choices = chunk.choices?;
        if choices.len() != 1 {
            return None;
        }
        let choice = choices.pop()?;
        if choice.index.unwrap_or(0) != 0 || choice.finish_reason.is_some() {
            return None;
        }
        let Some(delta) = choice.delta else {
            return Some(None);
        };
        let others = [delta.reasoning_content, delta.reasoning, delta.refusal, delta.tool_calls, delta.function_call];
        if others.iter().any(Option::is_some) {
            return None;
        }
        Some(delta.content)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::error_kinds::ErrorKind;
    use crate::sse::SseDecoder;
    use crate::usage::Usage;

    const DEEPSEEK: &str = include_str!("../../../../../tests/fixtures/dialects/openai/deepseek_reasoner.sse");
    const QWEN: &str = include_str!("../../../../../tests/fixtures/dialects/openai/qwen_think_tags.sse");
    const OPENROUTER: &str = include_str!("../../../../../tests/fixtures/dialects/openai/openrouter_reasoning.sse");
    const ERROR: &str = include_str!("../../../../../tests/fixtures/dialects/openai/error_mid_stream.sse");
    const TOOLS: &str = include_str!("../../../../../tests/fixtures/openai_stream/tool_call_deltas.input.sse");
    const GROQ: &str = include_str!("../../../../../tests/fixtures/openai_stream/groq_extras.input.sse");

    /// Decodes SSE bytes fed in the given pieces; also reports completion.
    pub(in crate::dialect::openai) fn decode_pieces(pieces: &[&[u8]]) -> (Vec<StreamEvent>, bool) {
        let mut sse = SseDecoder::new();
        let mut decoder = StreamDecoder::new();
        let mut events = Vec::new();
        let mut out = Vec::new();
        for piece in pieces {
            sse.feed(piece, &mut events);
            for event in events.drain(..) {
                decoder.on_event(&event, &mut out).unwrap();
            }
        }
        (out, decoder.is_complete())
    }

    pub(in crate::dialect::openai) fn decode(input: &str) -> Vec<StreamEvent> {
        let (events, complete) = decode_pieces(&[input.as_bytes()]);
        assert!(complete, "stream should be complete");
        events
    }

    fn start(id: &str, model: &str) -> StreamEvent {
        StreamEvent::Start { id: id.into(), model: model.into(), usage: None }
    }

    fn block(index: usize, kind: BlockKind) -> StreamEvent {
        StreamEvent::BlockStart { index, kind }
    }

    fn tool(index: usize, id: &str, name: &str) -> StreamEvent {
        block(index, BlockKind::ToolCall { id: id.into(), name: name.into() })
    }

    fn text(index: usize, text: &str) -> StreamEvent {
        StreamEvent::TextDelta { index, text: text.into() }
    }

    fn think(index: usize, text: &str) -> StreamEvent {
        StreamEvent::ReasoningDelta { index, text: text.into() }
    }

    fn args(index: usize, json: &str) -> StreamEvent {
        StreamEvent::ToolArgsDelta { index, json: json.into() }
    }

    fn stop(index: usize) -> StreamEvent {
        StreamEvent::BlockStop { index }
    }

    fn finish(reason: StopReason) -> StreamEvent {
        StreamEvent::Finish { reason, stop_sequence: None }
    }

    fn usage(input: u64, output: u64, reasoning: u64) -> StreamEvent {
        StreamEvent::Usage(Usage {
            input_tokens: input,
            output_tokens: output,
            reasoning_tokens: reasoning,
            ..Default::default()
        })
    }

    fn data(chunks: &[Value]) -> String {
        chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
    }

    fn chunk(delta: Value, finish_reason: Value) -> Value {
        json!({"id": "chatcmpl-x", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})
    }

    use serde_json::json;

    #[test]
    fn deepseek_reasoning_then_answer() {
        assert_eq!(
            decode(DEEPSEEK),
            vec![
                start("5f1c8a3e-2b7d-4c61-9a0e-7d3f2b1c9e44", "deepseek-reasoner"),
                block(0, BlockKind::Reasoning),
                think(0, "The user asks"),
                think(0, " for 9.11 vs 9.8."),
                stop(0),
                block(1, BlockKind::Text),
                text(1, "9.8"),
                text(1, " is larger."),
                usage(18, 96, 88),
                stop(1),
                finish(StopReason::EndTurn),
            ]
        );
    }

    #[test]
    fn think_tags_split_across_chunks_become_reasoning() {
        let expected = vec![
            start("chatcmpl-8d2f0b6a4c1e4f0f9a3b", "Qwen/QwQ-32B"),
            block(0, BlockKind::Reasoning),
            think(0, "Okay, 2+2"),
            think(0, " is 4.\n"),
            stop(0),
            block(1, BlockKind::Text),
            text(1, "2 + 2 = **4**"),
            stop(1),
            finish(StopReason::EndTurn),
            usage(21, 31, 0),
        ];
        assert_eq!(decode(QWEN), expected);
    }

    /// Cutting the byte stream anywhere changes neither the blocks nor the text they carry.
    #[test]
    fn every_byte_split_of_a_stream_decodes_alike() {
        fn settle(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
            let mut merged: Vec<StreamEvent> = Vec::new();
            for event in events {
                match (merged.last_mut(), event) {
                    (Some(StreamEvent::TextDelta { index: a, text: t }), StreamEvent::TextDelta { index: b, text })
                    | (
                        Some(StreamEvent::ReasoningDelta { index: a, text: t }),
                        StreamEvent::ReasoningDelta { index: b, text },
                    ) if *a == b => t.push_str(&text),
                    (_, event) => merged.push(event),
                }
            }
            merged
        }
        for fixture in [QWEN, DEEPSEEK, TOOLS] {
            let whole = settle(decode(fixture));
            let bytes = fixture.as_bytes();
            for cut in 0..=bytes.len() {
                let (events, complete) = decode_pieces(&[&bytes[..cut], &bytes[cut..]]);
                assert!(complete);
                assert_eq!(settle(events), whole, "cut at {cut}");
            }
        }
    }

    #[test]
    fn openrouter_reasoning_field_and_late_usage() {
        assert_eq!(
            decode(OPENROUTER),
            vec![
                start("gen-1746000000-AbCdEfGhIjKlMnOp", "google/gemini-2.5-flash"),
                block(0, BlockKind::Reasoning),
                think(0, "**Weighing the options**\n"),
                stop(0),
                block(1, BlockKind::Text),
                text(1, "Blue, "),
                text(1, "mostly."),
                stop(1),
                finish(StopReason::MaxTokens),
                usage(9, 64, 58),
            ]
        );
    }

    #[test]
    fn parallel_tool_calls_are_sequential_blocks() {
        assert_eq!(
            decode(TOOLS),
            vec![
                start("chatcmpl-Tool7", "gpt-4o-2024-08-06"),
                tool(0, "call_Wz3d", "get_weather"),
                args(0, "{\"ci"),
                args(0, "ty\": \"Paris\"}"),
                stop(0),
                tool(1, "call_Kp8q", "get_time"),
                args(1, "{\"tz\": \"Europe/Paris\"}"),
                stop(1),
                finish(StopReason::ToolUse),
            ]
        );
    }

    #[test]
    fn interleaved_tool_calls_are_routed_by_index() {
        let input = data(&[
            chunk(
                json!({"content": "Sure.", "tool_calls": [
                    {"index": 0, "id": "call_a", "type": "function", "function": {"name": "a", "arguments": ""}},
                    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b", "arguments": ""}}
                ]}),
                Value::Null,
            ),
            chunk(json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"y\":2}"}}]}), Value::Null),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":1}"}}]}), Value::Null),
            chunk(json!({}), json!("stop")),
        ]);
        assert_eq!(
            decode(&input),
            vec![
                start("chatcmpl-x", "m"),
                block(0, BlockKind::Text),
                text(0, "Sure."),
                stop(0),
                tool(1, "call_a", "a"),
                tool(2, "call_b", "b"),
                args(2, "{\"y\":2}"),
                args(1, "{\"x\":1}"),
                stop(1),
                stop(2),
                finish(StopReason::ToolUse),
            ]
        );
    }

    #[test]
    fn reused_index_with_a_new_id_is_a_new_call_and_done_ends_an_unfinished_stream() {
        let input = data(&[
            // Blank content before the calls makes no text block.
            chunk(json!({"content": "\n\n"}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c2", "function": {"name": "g", "arguments": "{"}}]}),
                Value::Null,
            ),
            chunk(json!({"function_call": {"name": "legacy", "arguments": "{}"}}), Value::Null),
        ]) + "data: [DONE]\n\n";
        assert_eq!(
            decode(&input),
            vec![
                start("chatcmpl-x", "m"),
                tool(0, "c1", "f"),
                args(0, "{}"),
                stop(0),
                tool(1, "c2", "g"),
                args(1, "{"),
                tool(2, "call_2", "legacy"),
                args(2, "{}"),
                stop(1),
                stop(2),
                finish(StopReason::ToolUse),
            ]
        );
    }

    #[test]
    fn groq_stream_with_trailing_usage() {
        assert_eq!(
            decode(GROQ),
            vec![
                start("chatcmpl-5b0c2e1f", "llama-3.1-8b-instant"),
                block(0, BlockKind::Text),
                text(0, "Hello"),
                text(0, "!"),
                stop(0),
                finish(StopReason::EndTurn),
                usage(18, 3, 0),
            ]
        );
    }

    #[test]
    fn in_band_error_is_reported_and_the_stream_is_not_complete() {
        // A `[DONE]` after the error does not make the stream look finished.
        let (events, complete) = decode_pieces(&[ERROR.as_bytes(), b"data: [DONE]\n\n"]);
        assert!(!complete);
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Error {
                message: "The server had an error while processing your request. Sorry about that!".into(),
                error_type: Some("server_error".into()),
                kind: ErrorKind::Internal,
            })
        );
    }

    #[test]
    fn malformed_events_are_upstream_errors_never_panics() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for bad in ["{not json", "[1]", "\"x\"", r#"{"choices":"x"}"#, r#"{"choices":[{"delta":{"tool_calls":{}}}]}"#] {
            let event = SseEvent { data: bad.into(), ..Default::default() };
            assert!(matches!(decoder.on_event(&event, &mut out), Err(CoreError::UpstreamProtocol { .. })), "{bad}");
        }
        for odd in [
            r#"{"choices":[null,1,{"delta":null},{"delta":{"content":5,"tool_calls":[null,{"index":"x"},{"function":3}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":[1]}}]},"finish_reason":7}],"usage":[]}"#,
            r#"{"error":null,"usage":{"prompt_tokens":"many"}}"#,
            "",
        ] {
            let event = SseEvent { data: odd.into(), ..Default::default() };
            decoder.on_event(&event, &mut out).unwrap();
        }
        assert!(!decoder.is_complete());
    }

    #[test]
    fn plain_chunks_take_the_fast_path_and_nothing_else_does() {
        use super::plain::content_delta;
        let plain = [
            (r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#, Some("hi")),
            (
                r#"{"choices":[{"delta":{"role":"assistant","content":"a\nb"}}],"usage":null,"error":null}"#,
                Some("a\nb"),
            ),
            (r#"{"choices":[{"index":0,"delta":{"content":null}}]}"#, None),
            (r#"{"choices":[{"index":0,"delta":null}],"x_groq":{"id":1}}"#, None),
        ];
        for (data, content) in plain {
            let got = content_delta(data).unwrap_or_else(|| panic!("fast path refused {data}"));
            assert_eq!(got.as_deref(), content, "{data}");
        }
        let full = [
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"r"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"refusal":"no"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"function_call":{}}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":7}}]}"#,
            r#"{"choices":[],"error":{"message":"x"}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"id":"c"}"#,
            r#"[[{"delta":{"content":"x"}}],null,null]"#,
            "not json",
        ];
        for data in full {
            assert!(content_delta(data).is_none(), "{data}");
        }
    }
}
