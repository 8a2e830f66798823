//! Anthropic Messages streams: SSE events to IR events (decoder) and back (encoder).
//!
//! Decoder: the `event:` line names the event (the payload's `type` is the fallback). Anthropic
//! block indexes are mapped to dense IR indexes in order of appearance; block types the IR does
//! not carry (server tool blocks) are skipped with their deltas. `message_delta` closes the open
//! blocks, then reports `Usage` (cumulative, merged with `message_start`'s input counts) and
//! `Finish`; `message_stop` completes the stream.
//!
//! Encoder: the framing the anthropic SDK expects (`event:` + `data:` with a `type`). Anthropic
//! blocks are strictly sequential, so the encoder writes one block at a time: a block started
//! while another is open is queued with its deltas and written when the open one stops (or at
//! `finish()`), which keeps a tool call's JSON in one block whatever order the upstream
//! interleaves them in. Reasoning from a non-Anthropic upstream is written as `thinking` with an
//! empty signature and no `signature_delta`, and only once it has text; redacted thinking from
//! elsewhere is dropped.

use serde_json::{json, Value};

use super::response::error_message;
use super::{message_id, stop_reason_from_ir, stop_reason_to_ir, tool_use_id, WireUsage};
use crate::dialect::{Dialect, EncodeOptions, StreamDecode, StreamEncode};
use crate::error::{CoreError, CoreResult};
use crate::error_body::{stream_error_event, ErrorSpec};
use crate::error_kinds::classify;
use crate::ir::{merge_usage, BlockKind, StopReason, StreamEvent};
use crate::sse::{encode_event, SseEvent};
use crate::usage::Usage;

/// The keep-alive event to send while waiting on a slow upstream.
pub fn ping_event() -> Vec<u8> {
    b"event: ping\ndata: {\"type\": \"ping\"}\n\n".to_vec()
}

// ---------------------------------------------------------------------------------------------
// Decoder

#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// Anthropic block index -> IR block index (`None`: a block the IR does not carry).
    blocks: Vec<(u64, Option<usize>)>,
    /// IR indexes of the blocks not yet stopped, in order.
    open: Vec<usize>,
    next_index: usize,
    usage: WireUsage,
    started: bool,
    finished: bool,
    failed: bool,
    complete: bool,
}

fn protocol(message: &str) -> CoreError {
    CoreError::upstream(format!("anthropic stream: {message}"))
}

fn block_index(payload: &Value, event: &str) -> CoreResult<u64> {
    payload.get("index").and_then(Value::as_u64).ok_or_else(|| protocol(&format!("{event} without a valid index")))
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn lookup(&self, index: u64) -> Option<Option<usize>> {
        self.blocks.iter().rev().find(|(i, _)| *i == index).map(|(_, ir)| *ir)
    }

    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        for index in self.open.drain(..) {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn message_start(&mut self, payload: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let message = payload
            .get("message")
            .filter(|m| m.is_object())
            .ok_or_else(|| protocol("message_start without a message"))?;
        if self.started {
            return Ok(());
        }
        self.started = true;
        let usage = message.get("usage").filter(|u| self.usage.update(u)).map(|_| self.usage.to_ir());
        out.push(StreamEvent::Start {
            id: text_of(message, "id").to_owned(),
            model: text_of(message, "model").to_owned(),
            usage,
        });
        Ok(())
    }

    fn block_start(&mut self, payload: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let wire = block_index(payload, "content_block_start")?;
        let block = payload
            .get("content_block")
            .filter(|b| b.is_object())
            .ok_or_else(|| protocol("content_block_start without a content_block"))?;
        if let Some(Some(previous)) = self.lookup(wire) {
            if let Some(pos) = self.open.iter().position(|i| *i == previous) {
                self.open.remove(pos);
                out.push(StreamEvent::BlockStop { index: previous });
            }
        }
        let kind = match text_of(block, "type") {
            "text" => BlockKind::Text,
            "thinking" => BlockKind::Reasoning,
            "redacted_thinking" => BlockKind::RedactedReasoning { data: text_of(block, "data").to_owned() },
            "tool_use" => {
                BlockKind::ToolCall { id: text_of(block, "id").to_owned(), name: text_of(block, "name").to_owned() }
            }
            _ => {
                self.blocks.push((wire, None));
                return Ok(());
            }
        };
        let index = self.next_index;
        self.next_index += 1;
        self.blocks.push((wire, Some(index)));
        self.open.push(index);
        out.push(StreamEvent::BlockStart { index, kind });
        // Blocks normally start empty; carry whatever a proxy put in them.
        let text = text_of(block, "text");
        if !text.is_empty() {
            out.push(StreamEvent::TextDelta { index, text: text.to_owned() });
        }
        let thinking = text_of(block, "thinking");
        if !thinking.is_empty() {
            out.push(StreamEvent::ReasoningDelta { index, text: thinking.to_owned() });
        }
        let signature = text_of(block, "signature");
        if !signature.is_empty() {
            out.push(StreamEvent::SignatureDelta { index, signature: signature.to_owned() });
        }
        if let Some(input) = block.get("input").and_then(Value::as_object).filter(|o| !o.is_empty()) {
            out.push(StreamEvent::ToolArgsDelta { index, json: Value::Object(input.clone()).to_string() });
        }
        Ok(())
    }

    fn block_delta(&mut self, payload: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let wire = block_index(payload, "content_block_delta")?;
        let index = match self.lookup(wire) {
            Some(Some(index)) => index,
            Some(None) => return Ok(()),
            None => return Err(protocol(&format!("content_block_delta for block {wire} that was never started"))),
        };
        let delta = payload
            .get("delta")
            .filter(|d| d.is_object())
            .ok_or_else(|| protocol("content_block_delta without a delta"))?;
        let event = match text_of(delta, "type") {
            "text_delta" => StreamEvent::TextDelta { index, text: text_of(delta, "text").to_owned() },
            "thinking_delta" => StreamEvent::ReasoningDelta { index, text: text_of(delta, "thinking").to_owned() },
            "signature_delta" => {
                StreamEvent::SignatureDelta { index, signature: text_of(delta, "signature").to_owned() }
            }
            "input_json_delta" => {
                let json = text_of(delta, "partial_json");
                if json.is_empty() {
                    return Ok(());
                }
                StreamEvent::ToolArgsDelta { index, json: json.to_owned() }
            }
            // citations_delta and anything newer: nothing the IR carries.
            _ => return Ok(()),
        };
        out.push(event);
        Ok(())
    }

    fn block_stop(&mut self, payload: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let wire = block_index(payload, "content_block_stop")?;
        if let Some(Some(index)) = self.lookup(wire) {
            if let Some(pos) = self.open.iter().position(|i| *i == index) {
                self.open.remove(pos);
                out.push(StreamEvent::BlockStop { index });
            }
        }
        Ok(())
    }

    fn message_delta(&mut self, payload: &Value, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        let delta = payload.get("delta");
        self.close_all(out);
        if let Some(usage) = payload.get("usage") {
            if self.usage.update(usage) {
                out.push(StreamEvent::Usage(self.usage.to_ir()));
            }
        }
        if let Some(reason) = delta.and_then(|d| d.get("stop_reason")).and_then(Value::as_str) {
            self.finished = true;
            out.push(StreamEvent::Finish {
                reason: stop_reason_to_ir(reason),
                stop_sequence: delta.and_then(|d| d.get("stop_sequence")).and_then(Value::as_str).map(str::to_owned),
            });
        }
        Ok(())
    }
}

impl StreamDecode for StreamDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        if self.complete || self.failed {
            return Ok(());
        }
        let name = event.event.as_deref().filter(|n| !n.is_empty());
        if name == Some("ping") {
            return Ok(());
        }
        let payload: Value = serde_json::from_str(event.data.trim())
            .map_err(|_| protocol(&format!("event '{}' is not JSON", name.unwrap_or("message"))))?;
        let kind = match name {
            Some(name) => name,
            None => payload.get("type").and_then(Value::as_str).unwrap_or_default(),
        };
        match kind {
            "message_start" => self.message_start(&payload, out),
            "content_block_start" => self.block_start(&payload, out),
            "content_block_delta" => self.block_delta(&payload, out),
            "content_block_stop" => self.block_stop(&payload, out),
            "message_delta" => self.message_delta(&payload, out),
            "message_stop" => {
                self.close_all(out);
                if !self.finished {
                    self.finished = true;
                    out.push(StreamEvent::Finish { reason: StopReason::EndTurn, stop_sequence: None });
                }
                self.complete = true;
                Ok(())
            }
            "error" => {
                let (message, error_type) = error_message(&payload);
                let kind = classify(&[error_type.as_deref()], None).0;
                self.failed = true;
                out.push(StreamEvent::Error { message, error_type, kind });
                Ok(())
            }
            // ping and event types added after this was written.
            _ => Ok(()),
        }
    }

    fn is_complete(&self) -> bool {
        self.complete
    }
}

// ---------------------------------------------------------------------------------------------
// Encoder

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Started while another block was being written: waiting, deltas kept in `pending`.
    Queued,
    /// The block being written.
    Active,
    Done,
}

#[derive(Debug)]
struct Block {
    ir: usize,
    kind: BlockKind,
    state: State,
    /// Client block index once `content_block_start` was written.
    wire: Option<usize>,
    /// Written only when its first text arrives (reasoning without a signature to pass on).
    lazy: bool,
    pending: Vec<StreamEvent>,
    stop_requested: bool,
}

#[derive(Debug)]
pub struct StreamEncoder {
    opts: EncodeOptions,
    started: bool,
    /// `finish()` or `fail()` (or an in-band error) wrote the ending.
    done: bool,
    message_id: String,
    usage: Usage,
    stop: Option<(StopReason, Option<String>)>,
    blocks: Vec<Block>,
    active: Option<usize>,
    next_wire: usize,
    tool_uses: usize,
}

fn write(out: &mut Vec<u8>, event: &str, payload: &Value) {
    encode_event(out, Some(event), &payload.to_string());
}

/// `content_block_delta` written straight to `out`: the bytes `write` produces for
/// `{"type":"content_block_delta","index":wire,"delta":{"type":kind,field:value}}` (one per
/// upstream token, so no JSON tree). A JSON string has no raw line break, so it is one data line.
fn write_block_delta(out: &mut Vec<u8>, wire: usize, kind: &str, field: &str, value: &str) {
    out.extend_from_slice(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
    out.extend_from_slice(wire.to_string().as_bytes());
    out.extend_from_slice(b",\"delta\":{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(Value::from(value).to_string().as_bytes());
    out.extend_from_slice(b"}}\n\n");
}

impl StreamEncoder {
    pub fn new(opts: EncodeOptions) -> Self {
        StreamEncoder {
            opts,
            started: false,
            done: false,
            message_id: String::new(),
            usage: Usage::default(),
            stop: None,
            blocks: Vec::new(),
            active: None,
            next_wire: 0,
            tool_uses: 0,
        }
    }

    fn pass_opaque(&self) -> bool {
        self.opts.upstream == Some(Dialect::Anthropic)
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        self.started = true;
        self.message_id = message_id(self.opts.response_id.as_deref(), id);
        let model = self.opts.model.as_deref().unwrap_or(model);
        let usage = WireUsage::from_ir(&self.usage).to_json(0);
        write(
            out,
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": self.message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": usage,
                },
            }),
        );
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start("", "", out);
        }
    }

    /// Adds a block; returns its position. Blocks that must not reach the client are born done.
    fn add_block(&mut self, ir: usize, kind: BlockKind, out: &mut Vec<u8>) -> usize {
        let pass = self.pass_opaque();
        let dropped = matches!(kind, BlockKind::RedactedReasoning { .. }) && !pass;
        let lazy = matches!(kind, BlockKind::Reasoning) && !pass;
        self.blocks.push(Block {
            ir,
            kind,
            state: if dropped { State::Done } else { State::Queued },
            wire: None,
            lazy,
            pending: Vec::new(),
            stop_requested: false,
        });
        let pos = self.blocks.len() - 1;
        self.pump(out);
        pos
    }

    /// The block a delta for IR block `ir` goes to, started implicitly when unknown.
    fn block_for_delta(&mut self, ir: usize, event: &StreamEvent, out: &mut Vec<u8>) -> Option<usize> {
        match self.blocks.iter().rposition(|b| b.ir == ir) {
            Some(pos) => {
                let block = self.blocks.get(pos)?;
                if block.state != State::Done {
                    return Some(pos);
                }
                // A delta after the block stopped: text and reasoning continue in a new block;
                // a tool call cannot be reopened.
                match block.kind {
                    BlockKind::Text | BlockKind::Reasoning => {
                        let kind = block.kind.clone();
                        Some(self.add_block(ir, kind, out))
                    }
                    _ => None,
                }
            }
            None => {
                let kind = match event {
                    StreamEvent::TextDelta { .. } => BlockKind::Text,
                    StreamEvent::ToolArgsDelta { .. } => BlockKind::ToolCall { id: String::new(), name: String::new() },
                    _ => BlockKind::Reasoning,
                };
                Some(self.add_block(ir, kind, out))
            }
        }
    }

    /// Writes `content_block_start` for the block if not yet written.
    fn open(&mut self, pos: usize, out: &mut Vec<u8>) {
        let message_id = self.message_id.clone();
        let tool_position = self.tool_uses;
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if block.wire.is_some() {
            return;
        }
        let content_block = match &block.kind {
            BlockKind::Text => json!({"type": "text", "text": ""}),
            BlockKind::Reasoning => json!({"type": "thinking", "thinking": "", "signature": ""}),
            BlockKind::RedactedReasoning { data } => {
                json!({"type": "redacted_thinking", "data": data})
            }
            BlockKind::ToolCall { id, name } => {
                self.tool_uses += 1;
                json!({
                    "type": "tool_use",
                    "id": tool_use_id(id, &message_id, tool_position),
                    "name": name,
                    "input": {},
                })
            }
        };
        let wire = self.next_wire;
        self.next_wire += 1;
        block.wire = Some(wire);
        write(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": wire, "content_block": content_block}),
        );
    }

    /// Writes one delta of the active block (mismatched or empty deltas are skipped).
    fn write_delta(&mut self, pos: usize, event: &StreamEvent, out: &mut Vec<u8>) {
        let pass = self.pass_opaque();
        let Some(block) = self.blocks.get(pos) else {
            return;
        };
        let (kind, field, value) = match (&block.kind, event) {
            (BlockKind::Text, StreamEvent::TextDelta { text, .. }) if !text.is_empty() => ("text_delta", "text", text),
            (BlockKind::Reasoning, StreamEvent::ReasoningDelta { text, .. }) if !text.is_empty() => {
                ("thinking_delta", "thinking", text)
            }
            (BlockKind::Reasoning, StreamEvent::SignatureDelta { signature, .. }) if pass && !signature.is_empty() => {
                ("signature_delta", "signature", signature)
            }
            (BlockKind::ToolCall { .. }, StreamEvent::ToolArgsDelta { json, .. }) if !json.is_empty() => {
                ("input_json_delta", "partial_json", json)
            }
            _ => return,
        };
        self.open(pos, out);
        let Some(wire) = self.blocks.get(pos).and_then(|b| b.wire) else {
            return;
        };
        write_block_delta(out, wire, kind, field, value);
    }

    fn deliver(&mut self, pos: usize, event: &StreamEvent, out: &mut Vec<u8>) {
        match self.blocks.get_mut(pos) {
            Some(block) if block.state == State::Queued => block.pending.push(event.clone()),
            Some(block) if block.state == State::Active => self.write_delta(pos, event, out),
            _ => {}
        }
    }

    fn close(&mut self, pos: usize, out: &mut Vec<u8>) {
        if self.active == Some(pos) {
            self.active = None;
        }
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        block.state = State::Done;
        if let Some(wire) = block.wire {
            write(out, "content_block_stop", &json!({"type": "content_block_stop", "index": wire}));
        }
    }

    /// Makes the first queued block active when none is, replaying what it received meanwhile.
    fn pump(&mut self, out: &mut Vec<u8>) {
        loop {
            if self.active.is_some() {
                return;
            }
            let Some(pos) = self.blocks.iter().position(|b| b.state == State::Queued) else {
                return;
            };
            self.active = Some(pos);
            let Some(block) = self.blocks.get_mut(pos) else {
                return;
            };
            block.state = State::Active;
            let pending = std::mem::take(&mut block.pending);
            let stop = block.stop_requested;
            if !block.lazy {
                self.open(pos, out);
            }
            for event in &pending {
                self.write_delta(pos, event, out);
            }
            if stop {
                self.close(pos, out);
            }
        }
    }

    fn stop_block(&mut self, ir: usize, out: &mut Vec<u8>) {
        let Some(pos) = self.blocks.iter().rposition(|b| b.ir == ir) else {
            return;
        };
        match self.blocks.get_mut(pos).map(|b| b.state) {
            Some(State::Active) => {
                self.close(pos, out);
                self.pump(out);
            }
            Some(State::Queued) => {
                if let Some(block) = self.blocks.get_mut(pos) {
                    block.stop_requested = true;
                }
            }
            _ => {}
        }
    }

    fn write_error(&mut self, message: &str, error_type: Option<&str>, out: &mut Vec<u8>) {
        self.done = true;
        let spec = ErrorSpec { status: 502, message, error_type, ..Default::default() };
        out.extend(stream_error_event(Dialect::Anthropic, &spec, 0));
    }
}

impl StreamEncode for StreamEncoder {
    fn on_event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => {
                if let Some(usage) = usage {
                    merge_usage(&mut self.usage, usage);
                }
                if !self.started {
                    self.start(id, model, out);
                }
            }
            StreamEvent::BlockStart { index, kind } => {
                self.ensure_started(out);
                let live = self.blocks.iter().any(|b| b.ir == *index && b.state != State::Done);
                if !live {
                    self.add_block(*index, kind.clone(), out);
                }
            }
            StreamEvent::TextDelta { index, .. }
            | StreamEvent::ReasoningDelta { index, .. }
            | StreamEvent::SignatureDelta { index, .. }
            | StreamEvent::ToolArgsDelta { index, .. } => {
                self.ensure_started(out);
                if let Some(pos) = self.block_for_delta(*index, event, out) {
                    self.deliver(pos, event, out);
                }
            }
            // Responses' encrypted reasoning means nothing to an Anthropic client.
            StreamEvent::EncryptedReasoning { .. } => {}
            StreamEvent::BlockStop { index } => self.stop_block(*index, out),
            StreamEvent::Usage(usage) => merge_usage(&mut self.usage, usage),
            StreamEvent::Finish { reason, stop_sequence } => self.stop = Some((reason.clone(), stop_sequence.clone())),
            StreamEvent::Error { message, kind, .. } => self.write_error(message, Some(kind.anthropic_type()), out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        loop {
            if let Some(pos) = self.active {
                self.close(pos, out);
            }
            self.pump(out);
            if self.active.is_none() {
                break;
            }
        }
        self.done = true;
        let (reason, stop_sequence) = self.stop.take().unwrap_or((StopReason::EndTurn, None));
        let stop_sequence = match reason {
            StopReason::StopSequence => stop_sequence,
            _ => None,
        };
        let usage = WireUsage::from_ir(&self.usage);
        write(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason_from_ir(&reason, self.tool_uses > 0),
                    "stop_sequence": stop_sequence,
                },
                "usage": usage.to_json(usage.output),
            }),
        );
        write(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if !self.done {
            self.write_error(message, None, out);
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
