//! Responses stream decoding: upstream SSE events -> IR stream events.

use serde_json::Value;

use super::reasoning_text;
use super::response::{error_message, output_item_parts, usage_from_value};
use crate::dialect::StreamDecode;
use crate::error::{CoreError, CoreResult};
use crate::error_kinds::classify;
use crate::ir::{BlockKind, Part, StopReason, StreamEvent};
use crate::sse::SseEvent;

/// Which part of an upstream output item an IR block stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    /// The whole item (function call, reasoning).
    Item,
    /// One content part of a message item.
    Content(u64),
}

#[derive(Debug)]
struct DecBlock {
    output_index: u64,
    sub: Sub,
    index: usize,
    open: bool,
    /// Some content was emitted for it (else a `.done` event's full text is used).
    emitted: bool,
    /// Reasoning: the (kind, index) of the last summary / content part seen, to separate parts.
    last_part: Option<(u8, u64)>,
}

/// Decodes an upstream Responses stream. Upstream (output_index, content_index) pairs become
/// dense IR block indexes in order of appearance.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    complete: bool,
    started: bool,
    blocks: Vec<DecBlock>,
    next_index: usize,
    /// item id -> output index, for events that only name the item.
    item_ids: Vec<(String, u64)>,
    /// Encrypted reasoning already present on `output_item.added`, by output index.
    pending_encrypted: Vec<(u64, String)>,
    saw_tool_call: bool,
}

fn upstream_err(message: impl Into<String>) -> CoreError {
    CoreError::upstream(message)
}

fn field_str<'a>(v: &'a Value, key: &str, event: &str) -> CoreResult<&'a str> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Ok(""),
        Some(_) => Err(upstream_err(format!("upstream {event} event has a non-string '{key}'"))),
    }
}

fn field_index(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn ensure_started(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start { id: String::new(), model: String::new(), usage: None });
        }
    }

    fn output_index(&self, v: &Value, event: &str) -> CoreResult<u64> {
        if let Some(i) = v.get("output_index").and_then(Value::as_u64) {
            return Ok(i);
        }
        let item_id = v.get("item_id").and_then(Value::as_str);
        item_id
            .and_then(|id| self.item_ids.iter().find(|(known, _)| known == id))
            .map(|(_, i)| *i)
            .ok_or_else(|| upstream_err(format!("upstream {event} event without output_index")))
    }

    /// Position in `blocks` of the open block for this key.
    fn find(&self, output_index: u64, sub: Sub) -> Option<usize> {
        self.blocks.iter().rposition(|b| b.open && b.output_index == output_index && b.sub == sub)
    }

    fn open(&mut self, output_index: u64, sub: Sub, kind: BlockKind, out: &mut Vec<StreamEvent>) -> usize {
        self.ensure_started(out);
        if matches!(kind, BlockKind::ToolCall { .. }) {
            self.saw_tool_call = true;
        }
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, kind });
        self.blocks.push(DecBlock { output_index, sub, index, open: true, emitted: false, last_part: None });
        self.blocks.len() - 1
    }

    fn find_or_open(
        &mut self,
        output_index: u64,
        sub: Sub,
        kind: impl FnOnce() -> BlockKind,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        match self.find(output_index, sub) {
            Some(pos) => pos,
            None => self.open(output_index, sub, kind(), out),
        }
    }

    /// Emits a delta of the block's kind (empty deltas are dropped).
    fn delta(&mut self, pos: usize, kind: DeltaKind, text: &str, out: &mut Vec<StreamEvent>) {
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if text.is_empty() {
            return;
        }
        block.emitted = true;
        let index = block.index;
        let text = text.to_owned();
        out.push(match kind {
            DeltaKind::Text => StreamEvent::TextDelta { index, text },
            DeltaKind::Reasoning => StreamEvent::ReasoningDelta { index, text },
            DeltaKind::Args => StreamEvent::ToolArgsDelta { index, json: text },
        });
    }

    /// A `.done` event's full text, used only when no delta carried it.
    fn fallback(&mut self, pos: usize, kind: DeltaKind, text: &str, out: &mut Vec<StreamEvent>) {
        if self.blocks.get(pos).is_some_and(|b| !b.emitted) {
            self.delta(pos, kind, text, out);
        }
    }

    fn close(&mut self, pos: usize, out: &mut Vec<StreamEvent>) {
        if let Some(block) = self.blocks.get_mut(pos) {
            if block.open {
                block.open = false;
                out.push(StreamEvent::BlockStop { index: block.index });
            }
        }
    }

    fn close_item(&mut self, output_index: u64, out: &mut Vec<StreamEvent>) {
        for pos in 0..self.blocks.len() {
            if self.blocks.get(pos).is_some_and(|b| b.open && b.output_index == output_index) {
                self.close(pos, out);
            }
        }
    }

    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        for pos in 0..self.blocks.len() {
            self.close(pos, out);
        }
    }

    /// A whole IR part as one closed block (for answers whose items arrive only whole).
    fn emit_part(&mut self, part: Part, out: &mut Vec<StreamEvent>) {
        let (kind, delta_kind, text) = match part {
            Part::Text { text, .. } => (BlockKind::Text, DeltaKind::Text, text),
            Part::ToolCall { id, name, arguments, .. } => {
                (BlockKind::ToolCall { id, name }, DeltaKind::Args, arguments)
            }
            Part::Reasoning { text, encrypted, .. } => {
                let pos = self.open(u64::MAX, Sub::Item, BlockKind::Reasoning, out);
                self.delta(pos, DeltaKind::Reasoning, &text, out);
                if let (Some(data), Some(block)) = (encrypted, self.blocks.get(pos)) {
                    out.push(StreamEvent::EncryptedReasoning { index: block.index, data });
                }
                self.close(pos, out);
                return;
            }
            Part::Image { .. } | Part::ToolResult { .. } => return,
        };
        let pos = self.open(u64::MAX, Sub::Item, kind, out);
        self.delta(pos, delta_kind, &text, out);
        self.close(pos, out);
    }

    fn item_added(&mut self, v: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let item = v
            .get("item")
            .filter(|i| i.is_object())
            .ok_or_else(|| upstream_err("upstream output_item.added event without an item"))?;
        let oi = self.output_index(v, "output_item.added")?;
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            self.item_ids.push((id.to_owned(), oi));
        }
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") => {
                let call_id = match field_str(item, "call_id", "output_item.added")? {
                    "" => field_str(item, "id", "output_item.added")?,
                    id => id,
                };
                let name = field_str(item, "name", "output_item.added")?.to_owned();
                let kind = BlockKind::ToolCall { id: call_id.to_owned(), name };
                let pos = self.find_or_open(oi, Sub::Item, || kind, out);
                let args = field_str(item, "arguments", "output_item.added")?;
                self.delta(pos, DeltaKind::Args, args, out);
            }
            Some("reasoning") => {
                let pos = self.find_or_open(oi, Sub::Item, || BlockKind::Reasoning, out);
                let text = reasoning_text(item, "reasoning", false)?;
                self.delta(pos, DeltaKind::Reasoning, &text, out);
                if let Some(data) = item.get("encrypted_content").and_then(Value::as_str) {
                    self.pending_encrypted.push((oi, data.to_owned()));
                }
            }
            Some("message") => {
                // Content normally arrives through content_part.added; take any already here.
                if let Some(content) = item.get("content").and_then(Value::as_array) {
                    for (j, part) in content.iter().enumerate() {
                        self.content_part(oi, j as u64, part, out)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A message content part announced (or found whole): opens its text block.
    fn content_part(
        &mut self,
        oi: u64,
        ci: u64,
        part: &Value,
        out: &mut Vec<StreamEvent>,
    ) -> CoreResult<Option<usize>> {
        let key = match part.get("type").and_then(Value::as_str) {
            Some("output_text") => "text",
            Some("refusal") => "refusal",
            _ => return Ok(None),
        };
        let text = field_str(part, key, "content_part")?;
        let pos = self.find_or_open(oi, Sub::Content(ci), || BlockKind::Text, out);
        self.fallback(pos, DeltaKind::Text, text, out);
        Ok(Some(pos))
    }

    fn item_done(&mut self, v: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let item = v
            .get("item")
            .filter(|i| i.is_object())
            .ok_or_else(|| upstream_err("upstream output_item.done event without an item"))?;
        let oi = self.output_index(v, "output_item.done")?;
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                if let Some(content) = item.get("content").and_then(Value::as_array) {
                    for (j, part) in content.iter().enumerate() {
                        self.content_part(oi, j as u64, part, out)?;
                    }
                }
            }
            Some("function_call") => {
                let args = field_str(item, "arguments", "output_item.done")?;
                let pos = match self.find(oi, Sub::Item) {
                    Some(pos) => pos,
                    None => {
                        let call_id = match field_str(item, "call_id", "output_item.done")? {
                            "" => field_str(item, "id", "output_item.done")?,
                            id => id,
                        };
                        let kind = BlockKind::ToolCall {
                            id: call_id.to_owned(),
                            name: field_str(item, "name", "output_item.done")?.to_owned(),
                        };
                        self.open(oi, Sub::Item, kind, out)
                    }
                };
                self.fallback(pos, DeltaKind::Args, args, out);
            }
            Some("reasoning") => {
                let text = reasoning_text(item, "reasoning", false)?;
                let encrypted = match item.get("encrypted_content").and_then(Value::as_str) {
                    Some(data) => Some(data.to_owned()),
                    None => self.pending_encrypted.iter().find(|(i, _)| *i == oi).map(|(_, d)| d.clone()),
                };
                let pos = match self.find(oi, Sub::Item) {
                    Some(pos) => Some(pos),
                    None if !text.is_empty() || encrypted.is_some() => {
                        Some(self.open(oi, Sub::Item, BlockKind::Reasoning, out))
                    }
                    None => None,
                };
                if let Some(pos) = pos {
                    self.fallback(pos, DeltaKind::Reasoning, &text, out);
                    if let (Some(data), Some(block)) = (encrypted, self.blocks.get(pos)) {
                        out.push(StreamEvent::EncryptedReasoning { index: block.index, data });
                    }
                }
            }
            _ => {}
        }
        self.close_item(oi, out);
        Ok(())
    }

    fn reasoning_delta(
        &mut self,
        v: &Value,
        part_key: (u8, &str),
        text: &str,
        done: bool,
        out: &mut Vec<StreamEvent>,
    ) -> CoreResult<()> {
        let oi = self.output_index(v, "reasoning")?;
        let pos = self.find_or_open(oi, Sub::Item, || BlockKind::Reasoning, out);
        let part = (part_key.0, field_index(v, part_key.1));
        if done {
            // Only used when no delta of this part came.
            let seen = self.blocks.get(pos).is_some_and(|b| b.last_part == Some(part));
            if seen {
                return Ok(());
            }
        }
        let separate = self.blocks.get(pos).is_some_and(|b| b.emitted && b.last_part.is_some_and(|p| p != part));
        if text.is_empty() {
            return Ok(());
        }
        if separate {
            self.delta(pos, DeltaKind::Reasoning, "\n\n", out);
        }
        if let Some(block) = self.blocks.get_mut(pos) {
            block.last_part = Some(part);
        }
        self.delta(pos, DeltaKind::Reasoning, text, out);
        Ok(())
    }

    fn finished(&mut self, kind: &str, v: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let response = v.get("response").filter(|r| r.is_object());
        self.ensure_started(out);
        if self.next_index == 0 {
            // Nothing was streamed item by item: take the answer from the final object.
            if let Some(items) = response.and_then(|r| r.get("output")).and_then(Value::as_array) {
                for item in items {
                    for part in output_item_parts(item)? {
                        self.emit_part(part, out);
                    }
                }
            }
        }
        self.close_all(out);
        if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(usage_from_value) {
            out.push(StreamEvent::Usage(usage));
        }
        let reason = if kind == "response.incomplete" {
            match response.and_then(|r| r.pointer("/incomplete_details/reason")).and_then(Value::as_str) {
                Some("max_output_tokens") | None => StopReason::MaxTokens,
                Some("content_filter") => StopReason::ContentFilter,
                Some(other) => StopReason::Other(other.to_owned()),
            }
        } else if self.saw_tool_call {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        };
        out.push(StreamEvent::Finish { reason, stop_sequence: None });
        self.complete = true;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum DeltaKind {
    Text,
    Reasoning,
    Args,
}

impl StreamDecode for StreamDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        if self.complete {
            return Ok(());
        }
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let v: Value =
            serde_json::from_str(data).map_err(|_| upstream_err("upstream sent a stream event that is not JSON"))?;
        if !v.is_object() {
            return Err(upstream_err("upstream stream event is not a JSON object"));
        }
        let kind = match v.get("type").and_then(Value::as_str) {
            Some(kind) => kind.to_owned(),
            None => event.event.clone().ok_or_else(|| upstream_err("upstream stream event without a type"))?,
        };
        match kind.as_str() {
            "response.created" | "response.in_progress" | "response.queued" if !self.started => {
                self.started = true;
                let response = v.get("response");
                let text = |key: &str| {
                    response.and_then(|r| r.get(key)).and_then(Value::as_str).unwrap_or_default().to_owned()
                };
                out.push(StreamEvent::Start { id: text("id"), model: text("model"), usage: None });
            }
            "response.output_item.added" => self.item_added(&v, out)?,
            "response.output_item.done" => self.item_done(&v, out)?,
            "response.content_part.added" | "response.content_part.done" => {
                let oi = self.output_index(&v, &kind)?;
                let ci = field_index(&v, "content_index");
                if let Some(part) = v.get("part").filter(|p| p.is_object()) {
                    self.content_part(oi, ci, part, out)?;
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let oi = self.output_index(&v, &kind)?;
                let ci = field_index(&v, "content_index");
                let text = field_str(&v, "delta", &kind)?;
                let pos = self.find_or_open(oi, Sub::Content(ci), || BlockKind::Text, out);
                self.delta(pos, DeltaKind::Text, text, out);
            }
            "response.output_text.done" | "response.refusal.done" => {
                let oi = self.output_index(&v, &kind)?;
                let ci = field_index(&v, "content_index");
                let key = if kind == "response.refusal.done" { "refusal" } else { "text" };
                let text = field_str(&v, key, &kind)?;
                let pos = self.find_or_open(oi, Sub::Content(ci), || BlockKind::Text, out);
                self.fallback(pos, DeltaKind::Text, text, out);
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                let oi = self.output_index(&v, &kind)?;
                let done = kind.ends_with(".done");
                let text = field_str(&v, if done { "arguments" } else { "delta" }, &kind)?;
                let item_id = field_str(&v, "item_id", &kind)?.to_owned();
                let name = field_str(&v, "name", &kind)?.to_owned();
                let kind_fn = || BlockKind::ToolCall { id: item_id, name };
                let pos = self.find_or_open(oi, Sub::Item, kind_fn, out);
                if done {
                    self.fallback(pos, DeltaKind::Args, text, out);
                } else {
                    self.delta(pos, DeltaKind::Args, text, out);
                }
            }
            "response.reasoning_summary_text.delta" => {
                let text = field_str(&v, "delta", &kind)?;
                self.reasoning_delta(&v, (0, "summary_index"), text, false, out)?;
            }
            "response.reasoning_summary_text.done" => {
                let text = field_str(&v, "text", &kind)?;
                self.reasoning_delta(&v, (0, "summary_index"), text, true, out)?;
            }
            "response.reasoning_text.delta" => {
                let text = field_str(&v, "delta", &kind)?;
                self.reasoning_delta(&v, (1, "content_index"), text, false, out)?;
            }
            "response.reasoning_text.done" => {
                let text = field_str(&v, "text", &kind)?;
                self.reasoning_delta(&v, (1, "content_index"), text, true, out)?;
            }
            "response.completed" | "response.incomplete" => self.finished(&kind, &v, out)?,
            "response.failed" => {
                let response = v.get("response");
                if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(usage_from_value) {
                    out.push(StreamEvent::Usage(usage));
                }
                let error = response.and_then(|r| r.get("error"));
                let code = error.and_then(|e| e.get("code")).and_then(Value::as_str);
                out.push(StreamEvent::Error {
                    message: error_message(error).unwrap_or_else(|| "upstream response failed".to_owned()),
                    error_type: code.map(str::to_owned),
                    kind: classify(&[code], None).0,
                });
            }
            "error" => {
                let nested = v.get("error").filter(|e| e.is_object());
                let source = nested.unwrap_or(&v);
                let message = source.get("message").and_then(Value::as_str).unwrap_or("upstream error").to_owned();
                let error_type = source
                    .get("code")
                    .and_then(Value::as_str)
                    .or_else(|| source.get("type").and_then(Value::as_str))
                    .filter(|t| *t != "error")
                    .map(str::to_owned);
                let kind = classify(&[error_type.as_deref()], None).0;
                out.push(StreamEvent::Error { message, error_type, kind });
            }
            _ => {}
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.complete
    }
}
