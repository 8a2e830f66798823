//! Responses stream encoding: IR stream events -> the event lifecycle the openai SDK and
//! Codex CLI expect.

use serde_json::{json, Map, Value};

use super::response::{
    arguments_or_empty_object, function_call_item, item_id, message_item, output_text_part, reasoning_item,
    response_id, response_object, status_for, Envelope,
};
use crate::dialect::{Dialect, EncodeOptions, StreamEncode};
use crate::ir::{merge_usage, BlockKind, StopReason, StreamEvent};
use crate::sse::encode_event;
use crate::usage::Usage;

#[derive(Debug, Clone)]
enum EncKind {
    Text,
    Reasoning,
    ToolCall {
        call_id: String,
        name: String,
    },
    /// A block with no Responses form (Anthropic redacted thinking): its events are dropped.
    Ignored,
}

#[derive(Debug)]
struct EncBlock {
    ir_index: usize,
    output_index: usize,
    item_id: String,
    kind: EncKind,
    /// Text, summary or arguments so far.
    buf: String,
    encrypted: Option<String>,
    /// Reasoning: the summary part was announced.
    part_open: bool,
    open: bool,
}

/// Encodes IR stream events as a Responses event stream: `event: <type>` lines, payloads with
/// `type` and a strictly increasing `sequence_number`, distinct increasing `output_index` per
/// item, and a final `response.completed` / `response.incomplete` carrying every item and the
/// usage. No `[DONE]`.
#[derive(Debug)]
pub struct StreamEncoder {
    opts: EncodeOptions,
    seq: u64,
    started: bool,
    done: bool,
    upstream_id: String,
    upstream_model: String,
    id: String,
    model: String,
    blocks: Vec<EncBlock>,
    /// Finished items with their output index.
    output: Vec<(usize, Value)>,
    next_output: usize,
    usage: Option<Usage>,
    reason: Option<StopReason>,
}

impl StreamEncoder {
    pub fn new(opts: EncodeOptions) -> Self {
        StreamEncoder {
            opts,
            seq: 0,
            started: false,
            done: false,
            upstream_id: String::new(),
            upstream_model: String::new(),
            id: String::new(),
            model: String::new(),
            blocks: Vec::new(),
            output: Vec::new(),
            next_output: 0,
            usage: None,
            reason: None,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, fields: Value) {
        let mut payload = Map::new();
        payload.insert("type".into(), json!(kind));
        payload.insert("sequence_number".into(), json!(self.seq));
        if let Value::Object(fields) = fields {
            payload.extend(fields);
        }
        self.seq += 1;
        encode_event(out, Some(kind), &Value::Object(payload).to_string());
    }

    fn envelope(&self, status: &str, incomplete: Option<&str>, error: Option<Value>) -> Value {
        let mut output: Vec<&(usize, Value)> = self.output.iter().collect();
        output.sort_by_key(|(i, _)| *i);
        let output = if status == "in_progress" {
            Vec::new()
        } else {
            output.into_iter().map(|(_, item)| item.clone()).collect()
        };
        response_object(Envelope {
            id: &self.id,
            created: self.opts.created,
            model: &self.model,
            status,
            incomplete_reason: incomplete,
            error,
            output,
            usage: if status == "in_progress" { None } else { self.usage.as_ref() },
        })
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = response_id(self.opts.response_id.as_deref().unwrap_or(&self.upstream_id));
        self.model = self.opts.model.clone().unwrap_or_else(|| self.upstream_model.clone());
        let response = self.envelope("in_progress", None, None);
        self.emit(out, "response.created", json!({ "response": response }));
        self.emit(out, "response.in_progress", json!({ "response": response }));
    }

    fn position(&self, ir_index: usize) -> Option<usize> {
        self.blocks.iter().rposition(|b| b.ir_index == ir_index)
    }

    fn open(&mut self, ir_index: usize, kind: BlockKind, out: &mut Vec<u8>) -> usize {
        self.ensure_started(out);
        let output_index = self.next_output;
        let (kind, item) = match kind {
            BlockKind::Text => {
                let id = item_id("msg", &self.id, output_index);
                let item = message_item(&id, None, "in_progress");
                (EncKind::Text, Some((id, item)))
            }
            BlockKind::Reasoning => {
                let id = item_id("rs", &self.id, output_index);
                let item = reasoning_item(&id, "", None);
                (EncKind::Reasoning, Some((id, item)))
            }
            BlockKind::ToolCall { id: call_id, name } => {
                let id = item_id("fc", &self.id, output_index);
                let item = function_call_item(&id, &call_id, &name, "", "in_progress");
                (EncKind::ToolCall { call_id, name }, Some((id, item)))
            }
            BlockKind::RedactedReasoning { .. } => (EncKind::Ignored, None),
        };
        let item_id = match item {
            Some((id, item)) => {
                self.next_output += 1;
                self.emit(out, "response.output_item.added", json!({"output_index": output_index, "item": item}));
                if matches!(kind, EncKind::Text) {
                    self.emit(
                        out,
                        "response.content_part.added",
                        json!({
                            "item_id": id,
                            "output_index": output_index,
                            "content_index": 0,
                            "part": output_text_part(""),
                        }),
                    );
                }
                id
            }
            None => String::new(),
        };
        self.blocks.push(EncBlock {
            ir_index,
            output_index,
            item_id,
            kind,
            buf: String::new(),
            encrypted: None,
            part_open: false,
            open: true,
        });
        self.blocks.len() - 1
    }

    /// The open block for an IR index, started implicitly with `kind` when it never was.
    fn block_for(
        &mut self,
        ir_index: usize,
        kind: impl FnOnce(&Self) -> BlockKind,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        match self.position(ir_index) {
            Some(pos) => self.blocks.get(pos).filter(|b| b.open).map(|_| pos),
            None => {
                self.ensure_started(out);
                let kind = kind(self);
                Some(self.open(ir_index, kind, out))
            }
        }
    }

    fn text_delta(&mut self, index: usize, text: &str, out: &mut Vec<u8>) {
        let Some(pos) = self.block_for(index, |_| BlockKind::Text, out) else {
            return;
        };
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if !matches!(block.kind, EncKind::Text) || text.is_empty() {
            return;
        }
        block.buf.push_str(text);
        let fields = json!({
            "item_id": block.item_id,
            "output_index": block.output_index,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        });
        self.emit(out, "response.output_text.delta", fields);
    }

    fn reasoning_delta(&mut self, index: usize, text: &str, out: &mut Vec<u8>) {
        let Some(pos) = self.block_for(index, |_| BlockKind::Reasoning, out) else {
            return;
        };
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if !matches!(block.kind, EncKind::Reasoning) || text.is_empty() {
            return;
        }
        block.buf.push_str(text);
        let (item_id, output_index) = (block.item_id.clone(), block.output_index);
        let announce = !block.part_open;
        block.part_open = true;
        if announce {
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({
                    "item_id": item_id,
                    "output_index": output_index,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                }),
            );
        }
        self.emit(
            out,
            "response.reasoning_summary_text.delta",
            json!({
                "item_id": item_id,
                "output_index": output_index,
                "summary_index": 0,
                "delta": text,
            }),
        );
    }

    fn args_delta(&mut self, index: usize, json_text: &str, out: &mut Vec<u8>) {
        let implicit =
            |me: &Self| BlockKind::ToolCall { id: item_id("call", &me.id, me.next_output), name: String::new() };
        let Some(pos) = self.block_for(index, implicit, out) else {
            return;
        };
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if !matches!(block.kind, EncKind::ToolCall { .. }) || json_text.is_empty() {
            return;
        }
        block.buf.push_str(json_text);
        let fields = json!({
            "item_id": block.item_id,
            "output_index": block.output_index,
            "delta": json_text,
        });
        self.emit(out, "response.function_call_arguments.delta", fields);
    }

    fn encrypted(&mut self, index: usize, data: &str, out: &mut Vec<u8>) {
        let pos = match self.position(index) {
            Some(pos) => pos,
            None => self.open(index, BlockKind::Reasoning, out),
        };
        let show = self.opts.upstream == Some(Dialect::Responses);
        if let Some(block) = self.blocks.get_mut(pos) {
            if !matches!(block.kind, EncKind::Reasoning) {
                return;
            }
            block.encrypted = Some(data.to_owned());
            if !block.open && show {
                // Arrived after the item was closed: still give it to `response.completed`.
                let (oi, item) = (block.output_index, reasoning_item(&block.item_id, &block.buf, Some(data)));
                if let Some(slot) = self.output.iter_mut().find(|(i, _)| *i == oi) {
                    slot.1 = item;
                }
            }
        }
    }

    fn close(&mut self, pos: usize, out: &mut Vec<u8>) {
        let Some(block) = self.blocks.get_mut(pos) else {
            return;
        };
        if !block.open {
            return;
        }
        block.open = false;
        let item_id = block.item_id.clone();
        let oi = block.output_index;
        let buf = block.buf.clone();
        let encrypted = block.encrypted.clone();
        let part_open = block.part_open;
        let kind = block.kind.clone();
        let item = match kind {
            EncKind::Ignored => return,
            EncKind::Text => {
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({
                        "item_id": item_id,
                        "output_index": oi,
                        "content_index": 0,
                        "text": buf,
                        "logprobs": [],
                    }),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({
                        "item_id": item_id,
                        "output_index": oi,
                        "content_index": 0,
                        "part": output_text_part(&buf),
                    }),
                );
                message_item(&item_id, Some(&buf), "completed")
            }
            EncKind::Reasoning => {
                if part_open {
                    self.emit(
                        out,
                        "response.reasoning_summary_text.done",
                        json!({
                            "item_id": item_id,
                            "output_index": oi,
                            "summary_index": 0,
                            "text": buf,
                        }),
                    );
                    self.emit(
                        out,
                        "response.reasoning_summary_part.done",
                        json!({
                            "item_id": item_id,
                            "output_index": oi,
                            "summary_index": 0,
                            "part": {"type": "summary_text", "text": buf},
                        }),
                    );
                }
                let show = self.opts.upstream == Some(Dialect::Responses);
                let encrypted = encrypted.as_deref().filter(|_| show);
                reasoning_item(&item_id, &buf, encrypted)
            }
            EncKind::ToolCall { call_id, name } => {
                let args = arguments_or_empty_object(&buf);
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    json!({
                        "item_id": item_id,
                        "output_index": oi,
                        "name": name,
                        "arguments": args,
                    }),
                );
                function_call_item(&item_id, &call_id, &name, args, "completed")
            }
        };
        self.emit(out, "response.output_item.done", json!({"output_index": oi, "item": item}));
        self.output.push((oi, item));
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        let mut order: Vec<(usize, usize)> =
            self.blocks.iter().enumerate().filter(|(_, b)| b.open).map(|(pos, b)| (b.output_index, pos)).collect();
        order.sort_unstable();
        for (_, pos) in order {
            self.close(pos, out);
        }
    }
}

impl StreamEncoder {
    /// Ends the stream with `response.failed` carrying `code` (once).
    fn failed(&mut self, message: &str, code: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.done = true;
        let error = json!({"code": code, "message": message});
        let response = self.envelope("failed", None, Some(error));
        self.emit(out, "response.failed", json!({ "response": response }));
    }
}

impl StreamEncode for StreamEncoder {
    fn on_event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => {
                if !self.started {
                    self.upstream_id.clone_from(id);
                    self.upstream_model.clone_from(model);
                    self.ensure_started(out);
                }
                if let Some(u) = usage {
                    merge_usage(self.usage.get_or_insert_with(Usage::default), u);
                }
            }
            StreamEvent::BlockStart { index, kind } => {
                if self.position(*index).is_none() {
                    self.open(*index, kind.clone(), out);
                }
            }
            StreamEvent::TextDelta { index, text } => self.text_delta(*index, text, out),
            StreamEvent::ReasoningDelta { index, text } => {
                self.reasoning_delta(*index, text, out);
            }
            StreamEvent::ToolArgsDelta { index, json } => self.args_delta(*index, json, out),
            StreamEvent::EncryptedReasoning { index, data } => self.encrypted(*index, data, out),
            StreamEvent::SignatureDelta { .. } => {}
            StreamEvent::BlockStop { index } => {
                if let Some(pos) = self.position(*index) {
                    self.close(pos, out);
                }
            }
            StreamEvent::Usage(u) => {
                merge_usage(self.usage.get_or_insert_with(Usage::default), u);
            }
            StreamEvent::Finish { reason, .. } => self.reason = Some(reason.clone()),
            StreamEvent::Error { message, kind, .. } => self.failed(message, kind.responses_code(), out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.close_all(out);
        self.done = true;
        let (status, incomplete) = status_for(self.reason.as_ref());
        let response = self.envelope(status, incomplete, None);
        let kind = if status == "incomplete" { "response.incomplete" } else { "response.completed" };
        self.emit(out, kind, json!({ "response": response }));
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.failed(message, "server_error", out);
    }
}
