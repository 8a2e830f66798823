//! Anthropic Messages: conversion between this wire format and the IR, requests, responses and streams.

use serde_json::Value;

use crate::dialect::{EncodeOptions, StreamDecode, StreamEncode};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatRequest, ChatResponse, StreamEvent};
use crate::sse::SseEvent;

fn unsupported() -> CoreError {
    CoreError::unsupported("anthropic translation is not implemented yet")
}

pub fn request_to_ir(_body: &Value) -> CoreResult<ChatRequest> {
    Err(unsupported())
}

pub fn request_from_ir(_request: &ChatRequest, _model: &str) -> CoreResult<Value> {
    Err(unsupported())
}

pub fn response_to_ir(_body: &Value) -> CoreResult<ChatResponse> {
    Err(unsupported())
}

pub fn response_from_ir(_response: &ChatResponse, _opts: &EncodeOptions) -> Value {
    Value::Null
}

#[derive(Debug, Default)]
pub struct StreamDecoder {
    complete: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamDecode for StreamDecoder {
    fn on_event(&mut self, _event: &SseEvent, _out: &mut Vec<StreamEvent>) -> CoreResult<()> {
        Err(unsupported())
    }

    fn is_complete(&self) -> bool {
        self.complete
    }
}

#[derive(Debug)]
pub struct StreamEncoder {
    _opts: EncodeOptions,
}

impl StreamEncoder {
    pub fn new(opts: EncodeOptions) -> Self {
        StreamEncoder { _opts: opts }
    }
}

impl StreamEncode for StreamEncoder {
    fn on_event(&mut self, _event: &StreamEvent, _out: &mut Vec<u8>) {}

    fn finish(&mut self, _out: &mut Vec<u8>) {}

    fn fail(&mut self, _message: &str, _out: &mut Vec<u8>) {}
}
