//! Tests of the Responses dialect: stream decoding and encoding.

use serde_json::{json, Value};

use super::*;
use crate::dialect::{EncodeOptions, StreamDecode, StreamEncode};
use crate::error_kinds::ErrorKind;
use crate::ir::{BlockKind, StopReason, StreamEvent};
use crate::sse::{SseDecoder, SseEvent};
use crate::usage::Usage;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../../../tests/fixtures/dialects/responses/", $name))
    };
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    assert!(!decoder.has_pending());
    events
}

/// Decodes a whole upstream stream; also checks `is_complete` only flips at the end.
fn decode(bytes: &[u8]) -> (Vec<StreamEvent>, bool) {
    let events = sse_events(bytes);
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    let last = events.len().saturating_sub(1);
    for (i, event) in events.iter().enumerate() {
        decoder.on_event(event, &mut out).unwrap();
        if i < last {
            assert!(!decoder.is_complete(), "complete too early at event {i}");
        }
    }
    (out, decoder.is_complete())
}

fn encode(events: &[StreamEvent], opts: EncodeOptions) -> Vec<u8> {
    let mut encoder = StreamEncoder::new(opts);
    let mut out = Vec::new();
    for event in events {
        encoder.on_event(event, &mut out);
    }
    encoder.finish(&mut out);
    out
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

/// (event name, payload) of every encoded event, checking the framing invariants.
fn encoded_payloads(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(!text.contains("[DONE]"));
    let mut out = Vec::new();
    for (i, event) in sse_events(bytes).into_iter().enumerate() {
        let payload = parse(&event.data);
        let name = event.event.expect("every event has an event: line");
        assert_eq!(payload["type"], json!(name));
        assert_eq!(payload["sequence_number"], json!(i), "sequence of {name}");
        out.push((name, payload));
    }
    out
}

fn names(payloads: &[(String, Value)]) -> Vec<&str> {
    payloads.iter().map(|(n, _)| n.as_str()).collect()
}

fn strip_start_ids(events: &mut [StreamEvent]) {
    for event in events {
        if let StreamEvent::Start { id, model, .. } = event {
            id.clear();
            model.clear();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stream decoding

#[test]
fn decodes_a_text_stream() {
    let (events, complete) = decode(fixture!("text.sse").as_bytes());
    assert!(complete);
    let mut expected = vec![
        StreamEvent::Start {
            id: "resp_68a1f0c2b9d48193a6e1c0f2d7b3e4a50b9c1d2e3f4a5b6c".into(),
            model: "gpt-4.1-2025-04-14".into(),
            usage: None,
        },
        StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
    ];
    for d in ["Paris", " is", " the", " capital", " of", " France", "."] {
        expected.push(StreamEvent::TextDelta { index: 0, text: d.into() });
    }
    expected.extend([
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::Usage(Usage { input_tokens: 23, output_tokens: 8, ..Default::default() }),
        StreamEvent::Finish { reason: StopReason::EndTurn, stop_sequence: None },
    ]);
    assert_eq!(events, expected);
}

#[test]
fn decodes_reasoning_and_parallel_calls() {
    let (events, complete) = decode(fixture!("reasoning_tools.sse").as_bytes());
    assert!(complete);
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningDelta { index: 0, text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasoning,
        "**Inspecting the repo**\n\nI should list the files first.\n\n**Planning**\n\nThen read the README."
    );
    let skeleton: Vec<String> = events
        .iter()
        .filter(|e| !matches!(e, StreamEvent::ReasoningDelta { .. }))
        .map(|e| match e {
            StreamEvent::Start { model, .. } => format!("start {model}"),
            StreamEvent::BlockStart { index, kind } => format!("start#{index} {kind:?}"),
            StreamEvent::ToolArgsDelta { index, json } => format!("args#{index} {json}"),
            StreamEvent::EncryptedReasoning { index, data } => {
                format!("enc#{index} {}", &data[..5])
            }
            StreamEvent::BlockStop { index } => format!("stop#{index}"),
            StreamEvent::Usage(u) => {
                format!("usage {} {} {} {}", u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens)
            }
            StreamEvent::Finish { reason, .. } => format!("finish {reason:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        skeleton,
        vec![
            "start gpt-5-codex",
            "start#0 Reasoning",
            "enc#0 gAAAA",
            "stop#0",
            "start#1 ToolCall { id: \"call_Xy12AbCdEf34GhIjKl56MnOp\", name: \"shell\" }",
            "args#1 {\"command\":",
            "args#1 [\"ls\",\"-la\"],",
            "args#1 \"workdir\":\"/repo\"}",
            "stop#1",
            "start#2 ToolCall { id: \"call_Qr78StUvWx90YzAbCd12EfGh\", name: \"read_file\" }",
            "args#2 {\"path\":\"README",
            "args#2 .md\"}",
            "stop#2",
            "usage 4821 310 4096 256",
            "finish ToolUse",
        ]
    );
}

#[test]
fn decodes_incomplete_and_failed_streams() {
    let (events, complete) = decode(fixture!("incomplete.sse").as_bytes());
    assert!(complete);
    assert_eq!(events.last(), Some(&StreamEvent::Finish { reason: StopReason::MaxTokens, stop_sequence: None }));
    assert!(events.contains(&StreamEvent::BlockStop { index: 0 }));

    let (events, complete) = decode(fixture!("failed.sse").as_bytes());
    assert!(!complete, "a failed response is not a clean completion");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Error {
            message: "The model produced invalid content.".into(),
            error_type: Some("server_error".into()),
            kind: ErrorKind::Internal,
        })
    );
}

fn feed(decoder: &mut StreamDecoder, payload: Value) -> CoreResult<Vec<StreamEvent>> {
    let mut out = Vec::new();
    let event = SseEvent { data: payload.to_string(), ..Default::default() };
    decoder.on_event(&event, &mut out)?;
    Ok(out)
}

#[test]
fn decoder_rejects_malformed_events() {
    let mut d = StreamDecoder::new();
    let raw = |data: &str| SseEvent { data: data.into(), ..Default::default() };
    assert!(d.on_event(&raw("not json"), &mut Vec::new()).is_err());
    assert!(d.on_event(&raw("[1,2]"), &mut Vec::new()).is_err());
    assert!(d.on_event(&raw("{\"no\":\"type\"}"), &mut Vec::new()).is_err());
    assert!(feed(&mut d, json!({"type": "response.output_text.delta", "output_index": 0, "delta": 5})).is_err());
    assert!(feed(&mut d, json!({"type": "response.output_text.delta", "delta": "x"})).is_err());
    assert!(feed(&mut d, json!({"type": "response.output_item.added", "output_index": 0, "item": 3})).is_err());
    assert!(feed(&mut d, json!({"type": "response.output_item.done", "output_index": 0})).is_err());
    assert!(feed(&mut d, json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": []}))
        .is_err());
    // [DONE], empty data and unknown events are ignored.
    assert!(d.on_event(&raw("[DONE]"), &mut Vec::new()).is_ok());
    assert_eq!(feed(&mut d, json!({"type": "response.web_search_call.searching"})).unwrap(), vec![]);
    assert!(!d.is_complete());
}

#[test]
fn decoder_tolerates_missing_announcements() {
    let mut d = StreamDecoder::new();
    let mut events = Vec::new();
    // No response.created, no output_item.added, a delta named only by item id after the
    // item was announced, a done event carrying text that never streamed.
    events.extend(
        feed(
            &mut d,
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hi"}),
        )
        .unwrap(),
    );
    events.extend(
        feed(
            &mut d,
            json!({"type": "response.output_item.added", "output_index": 1,
        "item": {"id": "fc_9", "type": "function_call", "call_id": "call_9", "name": "f", "arguments": ""}}),
        )
        .unwrap(),
    );
    events.extend(
        feed(&mut d, json!({"type": "response.function_call_arguments.delta", "item_id": "fc_9", "delta": "{}"}))
            .unwrap(),
    );
    events.extend(
        feed(
            &mut d,
            json!({"type": "response.output_text.done", "output_index": 2, "content_index": 0, "text": "late"}),
        )
        .unwrap(),
    );
    events.extend(feed(&mut d, json!({"type": "response.completed", "response": {"status": "completed"}})).unwrap());
    assert_eq!(
        events,
        vec![
            StreamEvent::Start { id: String::new(), model: String::new(), usage: None },
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 0, text: "Hi".into() },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::ToolCall { id: "call_9".into(), name: "f".into() } },
            StreamEvent::ToolArgsDelta { index: 1, json: "{}".into() },
            StreamEvent::BlockStart { index: 2, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 2, text: "late".into() },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish { reason: StopReason::ToolUse, stop_sequence: None },
        ]
    );
    assert!(d.is_complete());
    // Nothing after the terminal event.
    assert_eq!(
        feed(&mut d, json!({"type": "response.output_text.delta", "output_index": 5, "delta": "x"})).unwrap(),
        vec![]
    );
}

#[test]
fn decoder_takes_whole_items_from_the_final_response() {
    let mut d = StreamDecoder::new();
    let body = parse(fixture!("reasoning_tools.json"));
    let events = feed(&mut d, json!({"type": "response.completed", "response": body})).unwrap();
    let expected_ir = response_to_ir(&body).unwrap();
    // Rebuild parts from the events and compare with the non-stream conversion.
    let starts = events.iter().filter(|e| matches!(e, StreamEvent::BlockStart { .. })).count();
    assert_eq!(starts, expected_ir.parts.len());
    assert!(events.iter().any(|e| matches!(e, StreamEvent::EncryptedReasoning { index: 0, .. })));
    assert!(matches!(events.last(), Some(StreamEvent::Finish { reason: StopReason::ToolUse, .. })));
}

#[test]
fn decoder_reports_error_events() {
    let mut d = StreamDecoder::new();
    let out = feed(
        &mut d,
        json!({"type": "error", "sequence_number": 3, "code": "rate_limit_exceeded",
        "message": "Rate limit reached", "param": null}),
    )
    .unwrap();
    assert_eq!(
        out,
        vec![StreamEvent::Error {
            message: "Rate limit reached".into(),
            error_type: Some("rate_limit_exceeded".into()),
            kind: ErrorKind::RateLimited,
        }]
    );
    let out = feed(&mut d, json!({"type": "error", "error": {"type": "server_error", "message": "oops"}})).unwrap();
    assert_eq!(
        out,
        vec![StreamEvent::Error {
            message: "oops".into(),
            error_type: Some("server_error".into()),
            kind: ErrorKind::Internal
        }]
    );
    assert!(!d.is_complete());
}

#[test]
fn reasoning_text_done_without_deltas_and_separate_parts() {
    let mut d = StreamDecoder::new();
    let mut events = Vec::new();
    for p in [
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "summary": []}}),
        json!({"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": "A"}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 1, "delta": "B"}),
        json!({"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": 0, "summary_index": 1, "text": "B"}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"id": "rs_1", "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "A"}, {"type": "summary_text", "text": "B"}]}}),
    ] {
        events.extend(feed(&mut d, p).unwrap());
    }
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "A\n\nB");
    assert_eq!(events.last(), Some(&StreamEvent::BlockStop { index: 0 }));
}

// ---------------------------------------------------------------------------------------------
// Stream encoding

fn tool_stream() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Start { id: "up_1".into(), model: "up-model".into(), usage: None },
        StreamEvent::BlockStart { index: 0, kind: BlockKind::Reasoning },
        StreamEvent::ReasoningDelta { index: 0, text: "Let me ".into() },
        StreamEvent::ReasoningDelta { index: 0, text: "think.".into() },
        StreamEvent::EncryptedReasoning { index: 0, data: "ENC".into() },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart { index: 1, kind: BlockKind::Text },
        StreamEvent::TextDelta { index: 1, text: "Checking".into() },
        StreamEvent::TextDelta { index: 1, text: " both.".into() },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart { index: 2, kind: BlockKind::ToolCall { id: "call_a".into(), name: "weather".into() } },
        StreamEvent::ToolArgsDelta { index: 2, json: "{\"city\":".into() },
        StreamEvent::ToolArgsDelta { index: 2, json: "\"Paris\"}".into() },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::BlockStart { index: 3, kind: BlockKind::ToolCall { id: "call_b".into(), name: "time".into() } },
        StreamEvent::ToolArgsDelta { index: 3, json: "{\"tz\":\"CET\"}".into() },
        StreamEvent::BlockStop { index: 3 },
        StreamEvent::Usage(Usage {
            input_tokens: 50,
            output_tokens: 20,
            cached_tokens: 10,
            cache_creation_tokens: 0,
            reasoning_tokens: 5,
        }),
        StreamEvent::Finish { reason: StopReason::ToolUse, stop_sequence: None },
    ]
}

#[test]
fn encoder_writes_the_full_lifecycle() {
    let bytes = encode(&tool_stream(), opts(Some(Dialect::Responses)));
    let payloads = encoded_payloads(&bytes);
    assert_eq!(
        names(&payloads),
        vec![
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &payloads[0].1["response"];
    assert_eq!(created["id"], "resp_gw123");
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    assert_eq!(created["model"], "client-model");
    assert_eq!(created["created_at"], 1_700_000_000);

    // Distinct, increasing output indexes; item ids stable between added and done.
    let added: Vec<(u64, String)> = payloads
        .iter()
        .filter(|(n, _)| n == "response.output_item.added")
        .map(|(_, p)| (p["output_index"].as_u64().unwrap(), p["item"]["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        added,
        vec![
            (0, "rs_gw123_0".to_owned()),
            (1, "msg_gw123_1".to_owned()),
            (2, "fc_gw123_2".to_owned()),
            (3, "fc_gw123_3".to_owned())
        ]
    );
    let text_delta = &payloads[11].1;
    assert_eq!(
        text_delta,
        &json!({"type": "response.output_text.delta", "sequence_number": 11, "item_id": "msg_gw123_1",
                "output_index": 1, "content_index": 0, "delta": "Checking", "logprobs": []})
    );
    let args_done = &payloads[19].1;
    assert_eq!(args_done["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(args_done["name"], "weather");

    let completed = &payloads.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["usage"]["total_tokens"], 70);
    assert_eq!(completed["usage"]["input_tokens_details"]["cached_tokens"], 10);
    assert_eq!(completed["usage"]["output_tokens_details"]["reasoning_tokens"], 5);
    let output = completed["output"].as_array().unwrap();
    assert_eq!(output.len(), 4);
    assert_eq!(
        output[0],
        json!({"id": "rs_gw123_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Let me think."}], "encrypted_content": "ENC"})
    );
    assert_eq!(output[1]["content"][0]["text"], "Checking both.");
    assert_eq!(output[1]["status"], "completed");
    assert_eq!(output[2]["call_id"], "call_a");
    assert_eq!(output[3]["arguments"], "{\"tz\":\"CET\"}");
    // The completed object equals what the non-stream path would say.
    let done_items: Vec<Value> =
        payloads.iter().filter(|(n, _)| n == "response.output_item.done").map(|(_, p)| p["item"].clone()).collect();
    assert_eq!(&done_items, output);
}

#[test]
fn encoder_output_decodes_back_to_the_same_events() {
    let events = tool_stream();
    let bytes = encode(&events, opts(Some(Dialect::Responses)));
    let (mut decoded, complete) = decode(&bytes);
    assert!(complete);
    let mut expected = events.clone();
    strip_start_ids(&mut expected);
    strip_start_ids(&mut decoded);
    assert_eq!(decoded, expected);
}

#[test]
fn encoder_drops_encrypted_reasoning_from_other_upstreams() {
    let events = tool_stream();
    let bytes = encode(&events, opts(Some(Dialect::Anthropic)));
    assert!(!String::from_utf8_lossy(&bytes).contains("ENC"));
    let (mut decoded, _) = decode(&bytes);
    let mut expected: Vec<StreamEvent> =
        events.into_iter().filter(|e| !matches!(e, StreamEvent::EncryptedReasoning { .. })).collect();
    strip_start_ids(&mut expected);
    strip_start_ids(&mut decoded);
    assert_eq!(decoded, expected);
}

#[test]
fn encoder_tolerates_any_order() {
    // No Start, no BlockStart, Finish before Usage, blocks never stopped.
    let events = vec![
        StreamEvent::TextDelta { index: 0, text: "hi".into() },
        StreamEvent::ToolArgsDelta { index: 1, json: "{}".into() },
        StreamEvent::SignatureDelta { index: 0, signature: "sig".into() },
        StreamEvent::Finish { reason: StopReason::MaxTokens, stop_sequence: None },
        StreamEvent::Usage(Usage { input_tokens: 3, output_tokens: 4, ..Default::default() }),
    ];
    let mut o = opts(None);
    o.response_id = None;
    let bytes = encode(&events, o);
    let payloads = encoded_payloads(&bytes);
    assert_eq!(names(&payloads)[..2], ["response.created", "response.in_progress"]);
    let (name, last) = payloads.last().unwrap();
    assert_eq!(name, "response.incomplete");
    let response = &last["response"];
    assert_eq!(response["id"], "resp_0");
    assert_eq!(response["status"], "incomplete");
    assert_eq!(response["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(response["usage"]["total_tokens"], 7);
    assert_eq!(response["output"][0]["content"][0]["text"], "hi");
    assert_eq!(response["output"][1]["type"], "function_call");
    assert_eq!(response["output"][1]["arguments"], "{}");
    let (decoded, complete) = decode(&bytes);
    assert!(complete);
    assert!(matches!(decoded.last(), Some(StreamEvent::Finish { reason: StopReason::MaxTokens, .. })));
}

#[test]
fn finish_and_fail_write_once() {
    let mut encoder = StreamEncoder::new(opts(Some(Dialect::OpenAi)));
    let mut out = Vec::new();
    encoder.on_event(&StreamEvent::Start { id: "x".into(), model: "m".into(), usage: None }, &mut out);
    encoder.on_event(&StreamEvent::TextDelta { index: 0, text: "partial".into() }, &mut out);
    encoder.fail("upstream went away", &mut out);
    let len = out.len();
    encoder.finish(&mut out);
    encoder.fail("again", &mut out);
    encoder.on_event(&StreamEvent::BlockStop { index: 0 }, &mut out);
    assert_eq!(out.len(), len, "nothing after the failure");
    let payloads = encoded_payloads(&out);
    let (name, failed) = payloads.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"], json!({"code": "server_error", "message": "upstream went away"}));
    let (decoded, complete) = decode(&out);
    assert!(!complete);
    assert!(matches!(decoded.last(), Some(StreamEvent::Error { message, .. }) if message == "upstream went away"));

    let mut encoder = StreamEncoder::new(opts(None));
    let mut out = Vec::new();
    encoder.finish(&mut out);
    let len = out.len();
    encoder.finish(&mut out);
    encoder.fail("late", &mut out);
    assert_eq!(out.len(), len);
    let payloads = encoded_payloads(&out);
    assert_eq!(names(&payloads), vec!["response.created", "response.in_progress", "response.completed"]);
}

#[test]
fn in_band_error_event_fails_the_stream() {
    let events = vec![
        StreamEvent::Start { id: "x".into(), model: "m".into(), usage: None },
        StreamEvent::Error {
            message: "overloaded".into(),
            error_type: Some("overloaded_error".into()),
            kind: ErrorKind::Unavailable,
        },
    ];
    let bytes = encode(&events, opts(None));
    let payloads = encoded_payloads(&bytes);
    assert_eq!(names(&payloads), vec!["response.created", "response.in_progress", "response.failed"]);
}

#[test]
fn redacted_reasoning_and_late_encrypted_content() {
    let events = vec![
        StreamEvent::BlockStart { index: 0, kind: BlockKind::RedactedReasoning { data: "opaque".into() } },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart { index: 1, kind: BlockKind::Reasoning },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::EncryptedReasoning { index: 1, data: "LATE".into() },
    ];
    let bytes = encode(&events, opts(Some(Dialect::Responses)));
    assert!(!String::from_utf8_lossy(&bytes).contains("opaque"));
    let payloads = encoded_payloads(&bytes);
    let completed = &payloads.last().unwrap().1["response"];
    assert_eq!(
        completed["output"],
        json!([{"id": "rs_gw123_0", "type": "reasoning", "summary": [], "encrypted_content": "LATE"}])
    );
}
