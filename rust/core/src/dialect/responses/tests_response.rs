//! Tests of the Responses dialect: non-stream responses to and from the IR.

use serde_json::{json, Value};

use super::*;
use crate::dialect::EncodeOptions;
use crate::ir::{ChatResponse, StopReason};
use crate::usage::Usage;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../../../tests/fixtures/dialects/responses/", $name))
    };
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn opts(upstream: Option<Dialect>) -> EncodeOptions {
    EncodeOptions {
        created: 1_700_000_000,
        response_id: Some("resp_gw123".into()),
        model: Some("client-model".into()),
        include_usage: false,
        upstream,
    }
}

fn text(s: &str) -> Part {
    Part::text(s)
}

// ---------------------------------------------------------------------------------------------
// Non-stream responses

#[test]
fn upstream_response_to_ir() {
    let r = response_to_ir(&parse(fixture!("reasoning_tools.json"))).unwrap();
    assert_eq!(r.id, "resp_0c7e2b5d9a1f4e3b0068a1f1d2c3b4a5968190a1b2c3d4e5");
    assert_eq!(r.model, "gpt-5-codex");
    assert_eq!(r.created, Some(1_755_443_394));
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(r.parts.len(), 3);
    assert!(matches!(
        &r.parts[0],
        Part::Reasoning { text, encrypted: Some(_), origin: Some(Dialect::Responses), .. }
            if text == "**Inspecting the repo**\n\nI should list the files first.\n\n**Planning**\n\nThen read the README."
    ));
    assert!(matches!(
        &r.parts[1],
        Part::ToolCall { id, name, arguments, .. }
            if id == "call_Xy12AbCdEf34GhIjKl56MnOp" && name == "shell" && arguments == "{\"command\":[\"ls\",\"-la\"],\"workdir\":\"/repo\"}"
    ));
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 4821,
            output_tokens: 310,
            cached_tokens: 4096,
            cache_creation_tokens: 0,
            reasoning_tokens: 256
        })
    );
}

#[test]
fn upstream_statuses_and_errors() {
    let base = |status: &str, extra: Value| {
        let mut v = json!({
            "id": "resp_1", "object": "response", "created_at": 1, "model": "m", "status": status,
            "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": "hi", "annotations": []},
                                    {"type": "refusal", "refusal": "no"}]}]
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let done = response_to_ir(&base("completed", json!({}))).unwrap();
    assert_eq!(done.stop_reason, StopReason::EndTurn);
    assert_eq!(done.parts, vec![text("hi"), text("no")]);
    assert_eq!(done.usage, None);
    let max =
        response_to_ir(&base("incomplete", json!({"incomplete_details": {"reason": "max_output_tokens"}}))).unwrap();
    assert_eq!(max.stop_reason, StopReason::MaxTokens);
    let filtered =
        response_to_ir(&base("incomplete", json!({"incomplete_details": {"reason": "content_filter"}}))).unwrap();
    assert_eq!(filtered.stop_reason, StopReason::ContentFilter);
    let failed =
        response_to_ir(&base("failed", json!({"error": {"code": "server_error", "message": "boom"}}))).unwrap_err();
    assert_eq!(failed, CoreError::upstream("boom"));
    assert!(response_to_ir(&base("failed", json!({}))).is_err());
    assert!(response_to_ir(&json!({"error": {"message": "bad key"}})).is_err());
    assert!(response_to_ir(&json!({"output": {}})).is_err());
    assert!(response_to_ir(&json!({"output": [1]})).is_err());
    assert!(response_to_ir(&json!({"output": [{"type": "function_call", "name": 3}]})).is_err());
    assert!(response_to_ir(&json!("x")).is_err());
}

fn sample_response(upstream_reason: StopReason) -> ChatResponse {
    ChatResponse {
        id: "abc".into(),
        model: "upstream-model".into(),
        created: None,
        parts: vec![
            Part::Reasoning {
                text: "hmm".into(),
                signature: None,
                encrypted: Some("ENC".into()),
                origin: Some(Dialect::Responses),
            },
            text("Hello "),
            text("world"),
            Part::ToolCall { id: "call_1".into(), name: "f".into(), arguments: "{\"x\":1}".into(), signature: None },
            Part::ToolCall { id: "call_2".into(), name: "g".into(), arguments: "{}".into(), signature: None },
        ],
        stop_reason: upstream_reason,
        stop_sequence: None,
        usage: Some(Usage {
            input_tokens: 100,
            output_tokens: 40,
            cached_tokens: 60,
            cache_creation_tokens: 0,
            reasoning_tokens: 10,
        }),
    }
}

#[test]
fn response_from_ir_shape() {
    let v = response_from_ir(&sample_response(StopReason::ToolUse), &opts(Some(Dialect::Responses)));
    assert_eq!(v["id"], "resp_gw123");
    assert_eq!(v["object"], "response");
    assert_eq!(v["created_at"], 1_700_000_000);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["incomplete_details"], Value::Null);
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["model"], "client-model");
    assert_eq!(v["metadata"], json!({}));
    assert_eq!(
        v["output"],
        json!([
            {"id": "rs_gw123_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}], "encrypted_content": "ENC"},
            {"id": "msg_gw123_1", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Hello world", "annotations": []}]},
            {"id": "fc_gw123_2", "type": "function_call", "status": "completed", "arguments": "{\"x\":1}", "call_id": "call_1", "name": "f"},
            {"id": "fc_gw123_3", "type": "function_call", "status": "completed", "arguments": "{}", "call_id": "call_2", "name": "g"}
        ])
    );
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0},
               "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 140})
    );
    // And it reads back.
    let back = response_to_ir(&v).unwrap();
    assert_eq!(back.stop_reason, StopReason::ToolUse);
    assert_eq!(back.usage, sample_response(StopReason::ToolUse).usage);
    assert_eq!(back.parts.len(), 4);
}

#[test]
fn response_from_ir_hides_foreign_opaque_data_and_maps_incomplete() {
    let mut o = opts(Some(Dialect::Anthropic));
    o.response_id = None;
    o.model = None;
    let v = response_from_ir(&sample_response(StopReason::MaxTokens), &o);
    assert_eq!(v["id"], "resp_abc");
    assert_eq!(v["model"], "upstream-model");
    assert!(v["output"][0].get("encrypted_content").is_none());
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"], json!({"reason": "max_output_tokens"}));
    let filtered = response_from_ir(&sample_response(StopReason::ContentFilter), &o);
    assert_eq!(filtered["incomplete_details"], json!({"reason": "content_filter"}));
    // A signature-only reasoning part from elsewhere produces no empty item.
    let mut r = sample_response(StopReason::EndTurn);
    r.parts = vec![
        Part::Reasoning {
            text: String::new(),
            signature: None,
            encrypted: Some("redacted".into()),
            origin: Some(Dialect::Anthropic),
        },
        text("x"),
    ];
    let v = response_from_ir(&r, &opts(Some(Dialect::Anthropic)));
    assert_eq!(v["output"].as_array().unwrap().len(), 1);
    assert_eq!(v["output"][0]["id"], "msg_gw123_0");
}
