use super::*;
use crate::error_kinds::ErrorKind;
use crate::sse::SseDecoder;

const TEXT_TOOL: &str = include_str!("../../../../../tests/fixtures/dialects/anthropic/text_tool_use.sse");
const THINKING: &str = include_str!("../../../../../tests/fixtures/dialects/anthropic/thinking.sse");
const SERVER_TOOL: &str = include_str!("../../../../../tests/fixtures/dialects/anthropic/server_tool_citations.sse");
const OVERLOADED: &str = include_str!("../../../../../tests/fixtures/dialects/anthropic/overloaded_error.sse");

fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    // Feed in small uneven pieces, as a network would.
    for chunk in bytes.chunks(37) {
        decoder.feed(chunk, &mut events);
    }
    events
}

fn decode_with(decoder: &mut StreamDecoder, bytes: &[u8]) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    for event in sse_events(bytes) {
        decoder.on_event(&event, &mut out).unwrap();
    }
    out
}

fn decode(bytes: &[u8]) -> (Vec<StreamEvent>, bool) {
    let mut decoder = StreamDecoder::new();
    let events = decode_with(&mut decoder, bytes);
    (events, decoder.is_complete())
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

fn anthropic() -> EncodeOptions {
    EncodeOptions { upstream: Some(Dialect::Anthropic), ..EncodeOptions::default() }
}

fn usage(input: u64, output: u64, cached: u64, creation: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
        cache_creation_tokens: creation,
        reasoning_tokens: reasoning,
    }
}

fn text(index: usize, text: &str) -> StreamEvent {
    StreamEvent::TextDelta { index, text: text.into() }
}

fn args(index: usize, json: &str) -> StreamEvent {
    StreamEvent::ToolArgsDelta { index, json: json.into() }
}

fn start(index: usize, kind: BlockKind) -> StreamEvent {
    StreamEvent::BlockStart { index, kind }
}

fn stop(index: usize) -> StreamEvent {
    StreamEvent::BlockStop { index }
}

fn tool(id: &str, name: &str) -> BlockKind {
    BlockKind::ToolCall { id: id.into(), name: name.into() }
}

fn finish(reason: StopReason) -> StreamEvent {
    StreamEvent::Finish { reason, stop_sequence: None }
}

fn text_tool_events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Start {
            id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
            model: "claude-sonnet-4-5-20250929".into(),
            usage: Some(usage(2520, 2, 2048, 0, 0)),
        },
        start(0, BlockKind::Text),
        text(0, "Okay"),
        text(0, ", let me check the weather."),
        stop(0),
        start(1, tool("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")),
        args(1, "{\"location\":"),
        args(1, " \"San Francisco, CA\"}"),
        stop(1),
        StreamEvent::Usage(usage(2520, 89, 2048, 0, 0)),
        finish(StopReason::ToolUse),
    ]
}

#[test]
fn decodes_text_and_tool_use_stream() {
    let (events, complete) = decode(TEXT_TOOL.as_bytes());
    assert_eq!(events, text_tool_events());
    assert!(complete);
}

#[test]
fn decodes_thinking_with_signature_and_redacted_block() {
    let (events, complete) = decode(THINKING.as_bytes());
    assert!(complete);
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: "msg_01ThinkStream".into(),
                model: "claude-opus-4-1-20250805".into(),
                usage: Some(usage(1236, 4, 0, 1200, 0)),
            },
            start(0, BlockKind::Reasoning),
            StreamEvent::ReasoningDelta { index: 0, text: "The user wants 27 * 453.".into() },
            StreamEvent::ReasoningDelta { index: 0, text: " 27 * 453 = 12231.".into() },
            StreamEvent::SignatureDelta {
                index: 0,
                signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds=".into()
            },
            stop(0),
            start(
                1,
                BlockKind::RedactedReasoning {
                    data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP".into()
                }
            ),
            stop(1),
            start(2, BlockKind::Text),
            text(2, "27 * 453 = 12,231"),
            stop(2),
            // message_delta only reports output: the input counts of message_start are kept.
            StreamEvent::Usage(usage(1236, 210, 0, 1200, 150)),
            finish(StopReason::EndTurn),
        ]
    );
}

#[test]
fn server_tool_blocks_and_citations_are_skipped_with_dense_indexes() {
    let (events, complete) = decode(SERVER_TOOL.as_bytes());
    assert!(complete);
    assert_eq!(
        events[1..],
        [
            start(0, BlockKind::Text),
            text(0, "I'll search for that."),
            stop(0),
            start(1, BlockKind::Text),
            text(1, "It is sunny and 75F."),
            stop(1),
            StreamEvent::Usage(usage(10682, 510, 0, 0, 0)),
            finish(StopReason::EndTurn),
        ]
    );
}

#[test]
fn in_band_error_is_reported_and_stream_not_complete() {
    let mut decoder = StreamDecoder::new();
    let events = decode_with(&mut decoder, OVERLOADED.as_bytes());
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Error {
            message: "Overloaded".into(),
            error_type: Some("overloaded_error".into()),
            kind: ErrorKind::Unavailable
        })
    );
    assert!(!decoder.is_complete());
    // Anything after the error is ignored.
    let more = decode_with(&mut decoder, b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    assert!(more.is_empty() && !decoder.is_complete());
}

#[test]
fn payload_type_is_used_when_event_lines_are_missing() {
    let without_names: String =
        TEXT_TOOL.lines().filter(|l| !l.starts_with("event:")).map(|l| format!("{l}\n")).collect();
    let (events, complete) = decode(without_names.as_bytes());
    assert_eq!(events, text_tool_events());
    assert!(complete);
}

#[test]
fn truncated_stream_closes_blocks_and_finishes_at_message_stop_only() {
    let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n\
        event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    let mut decoder = StreamDecoder::new();
    let events = decode_with(&mut decoder, body.as_bytes());
    assert_eq!(events.len(), 2);
    assert!(!decoder.is_complete());
    let tail = decode_with(&mut decoder, b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    assert_eq!(tail, vec![stop(0), finish(StopReason::EndTurn)]);
    assert!(decoder.is_complete());
}

#[test]
fn malformed_events_are_upstream_errors_never_panics() {
    let bad = [
        ("message_start", "not json"),
        ("message_start", "{\"type\":\"message_start\"}"),
        ("content_block_start", "{\"index\":0}"),
        ("content_block_start", "{\"index\":\"0\",\"content_block\":{\"type\":\"text\"}}"),
        ("content_block_delta", "{\"index\":7,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"),
        ("content_block_stop", "{}"),
    ];
    for (name, data) in bad {
        let mut decoder = StreamDecoder::new();
        let event = SseEvent { event: Some(name.into()), data: data.into(), ..SseEvent::default() };
        let result = decoder.on_event(&event, &mut Vec::new());
        assert!(matches!(result, Err(CoreError::UpstreamProtocol { .. })), "{name}: {data}");
    }
    let odd = [
        "null",
        "[]",
        "1",
        "{\"type\":5}",
        "{\"index\":0,\"delta\":null}",
        "{\"delta\":{\"stop_reason\":3},\"usage\":[]}",
    ];
    for name in [None, Some("content_block_delta"), Some("message_delta"), Some("error"), Some("whatever")] {
        for data in odd {
            let mut decoder = StreamDecoder::new();
            let event = SseEvent { event: name.map(str::to_owned), data: data.into(), ..SseEvent::default() };
            let _ = decoder.on_event(&event, &mut Vec::new());
        }
    }
}

/// Start usage differs after a round trip: `message_start` always reports 0 output tokens.
fn without_start_output(mut events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    for event in &mut events {
        if let StreamEvent::Start { usage: Some(usage), .. } = event {
            usage.output_tokens = 0;
        }
    }
    events
}

#[test]
fn encoder_output_decodes_back_to_the_same_events() {
    for fixture in [TEXT_TOOL, THINKING, SERVER_TOOL] {
        let (events, _) = decode(fixture.as_bytes());
        let bytes = encode(&events, anthropic());
        let (again, complete) = decode(&bytes);
        assert!(complete);
        assert_eq!(again, without_start_output(events.clone()));
    }
}

#[test]
fn encoder_writes_the_sdk_framing() {
    let bytes = encode(&text_tool_events(), anthropic());
    let text = String::from_utf8(bytes).unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let payloads: Vec<Value> =
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(
        payloads[0],
        json!({"type": "message_start", "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 472, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048}}})
    );
    assert_eq!(
        payloads[5],
        json!({"type": "content_block_start", "index": 1, "content_block":
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}})
    );
    assert_eq!(
        payloads[9],
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"input_tokens": 472, "output_tokens": 89, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048}})
    );
    assert_eq!(payloads[10], json!({"type": "message_stop"}));
}

#[test]
fn foreign_reasoning_has_no_signature_and_redacted_is_dropped() {
    let events = vec![
        StreamEvent::Start { id: "resp_1".into(), model: "gpt-5".into(), usage: None },
        start(0, BlockKind::Reasoning),
        StreamEvent::EncryptedReasoning { index: 0, data: "enc".into() },
        stop(0), // no text: never written
        start(1, BlockKind::RedactedReasoning { data: "opaque".into() }),
        stop(1),
        start(2, BlockKind::Reasoning),
        StreamEvent::ReasoningDelta { index: 2, text: "hmm".into() },
        StreamEvent::SignatureDelta { index: 2, signature: "sig".into() },
        stop(2),
        start(3, BlockKind::Text),
        text(3, "done"),
        stop(3),
        finish(StopReason::EndTurn),
        StreamEvent::Usage(usage(10, 5, 0, 0, 3)),
    ];
    let opts = EncodeOptions {
        response_id: Some("msg_gw_1".into()),
        model: Some("alias".into()),
        upstream: Some(Dialect::Responses),
        ..EncodeOptions::default()
    };
    let bytes = encode(&events, opts);
    let text_out = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text_out.contains("signature_delta") && !text_out.contains("redacted"));
    assert!(text_out.contains(r#""content_block":{"type":"thinking","thinking":"","signature":""}"#));
    let (decoded, complete) = decode(&bytes);
    assert!(complete);
    assert_eq!(
        decoded,
        vec![
            StreamEvent::Start { id: "msg_gw_1".into(), model: "alias".into(), usage: Some(usage(0, 0, 0, 0, 0)) },
            start(0, BlockKind::Reasoning),
            StreamEvent::ReasoningDelta { index: 0, text: "hmm".into() },
            stop(0),
            start(1, BlockKind::Text),
            text(1, "done"),
            stop(1),
            // Usage that arrived after Finish still reaches message_delta.
            StreamEvent::Usage(usage(10, 5, 0, 0, 3)),
            finish(StopReason::EndTurn),
        ]
    );
}

#[test]
fn interleaved_blocks_are_serialised_one_at_a_time() {
    let events = vec![
        StreamEvent::Start { id: "chatcmpl-9".into(), model: "gpt-4o".into(), usage: None },
        start(0, BlockKind::Text),
        text(0, "Calling "),
        start(1, tool("call_a", "f")),
        args(1, "{\"a\":"),
        start(2, tool("", "g")),
        args(2, "{}"),
        text(0, "tools"),
        args(1, "1}"),
        stop(2),
        stop(1),
        // Text after its block stopped continues in a new block.
        stop(0),
        text(0, "!"),
        finish(StopReason::EndTurn),
    ];
    let (decoded, complete) = decode(&encode(&events, EncodeOptions::default()));
    assert!(complete);
    assert_eq!(
        decoded[1..],
        [
            start(0, BlockKind::Text),
            text(0, "Calling "),
            text(0, "tools"),
            stop(0),
            start(1, tool("call_a", "f")),
            args(1, "{\"a\":"),
            args(1, "1}"),
            stop(1),
            start(2, tool("toolu_chatcmpl-9_1", "g")),
            args(2, "{}"),
            stop(2),
            start(3, BlockKind::Text),
            text(3, "!"),
            stop(3),
            StreamEvent::Usage(usage(0, 0, 0, 0, 0)),
            // Tool calls happened: a natural end is reported as tool_use.
            finish(StopReason::ToolUse),
        ]
    );
    assert_eq!(
        decoded[0],
        StreamEvent::Start { id: "msg_chatcmpl-9".into(), model: "gpt-4o".into(), usage: Some(Usage::default()) }
    );
}

#[test]
fn implicit_start_and_block_for_orphan_deltas() {
    let opts = EncodeOptions { response_id: Some("msg_x".into()), model: Some("m".into()), ..EncodeOptions::default() };
    let events = vec![
        text(4, "hi"),
        StreamEvent::Start { id: "late".into(), model: "other".into(), usage: Some(usage(9, 0, 0, 0, 0)) },
        StreamEvent::Finish { reason: StopReason::StopSequence, stop_sequence: Some("END".into()) },
    ];
    let (decoded, _) = decode(&encode(&events, opts));
    assert_eq!(
        decoded,
        vec![
            StreamEvent::Start { id: "msg_x".into(), model: "m".into(), usage: Some(Usage::default()) },
            start(0, BlockKind::Text),
            text(0, "hi"),
            stop(0),
            StreamEvent::Usage(usage(9, 0, 0, 0, 0)),
            StreamEvent::Finish { reason: StopReason::StopSequence, stop_sequence: Some("END".into()) },
        ]
    );
}

#[test]
fn finish_once_and_fail_writes_only_the_error() {
    let mut encoder = StreamEncoder::new(EncodeOptions::default());
    let mut out = Vec::new();
    encoder.finish(&mut out);
    let first = out.len();
    encoder.finish(&mut out);
    encoder.fail("late", &mut out);
    encoder.on_event(&text(0, "x"), &mut out);
    assert_eq!(out.len(), first);
    let (events, complete) = decode(&out);
    assert!(complete);
    assert_eq!(events.last(), Some(&finish(StopReason::EndTurn)));

    let mut encoder = StreamEncoder::new(EncodeOptions::default());
    let mut out = Vec::new();
    encoder.on_event(&start(0, BlockKind::Text), &mut out);
    encoder.on_event(&text(0, "partial"), &mut out);
    let before = out.len();
    encoder.fail("upstream connection lost", &mut out);
    let error = String::from_utf8(out[before..].to_vec()).unwrap();
    assert!(error.starts_with("event: error\ndata: "));
    let payload: Value = serde_json::from_str(error.trim_end().strip_prefix("event: error\ndata: ").unwrap()).unwrap();
    assert_eq!(payload["type"], json!("error"));
    assert_eq!(payload["error"]["type"], json!("api_error"));
    assert_eq!(payload["error"]["message"], json!("upstream connection lost"));
    let len = out.len();
    encoder.finish(&mut out);
    encoder.fail("again", &mut out);
    assert_eq!(out.len(), len);
    let mut decoder = StreamDecoder::new();
    let events = decode_with(&mut decoder, &out);
    assert!(matches!(events.last(), Some(StreamEvent::Error { .. })));
    assert!(!decoder.is_complete());
}

#[test]
fn upstream_error_event_is_forwarded_in_band() {
    let mut encoder = StreamEncoder::new(anthropic());
    let mut out = Vec::new();
    encoder.on_event(
        &StreamEvent::Error {
            message: "Overloaded".into(),
            error_type: Some("overloaded_error".into()),
            kind: ErrorKind::Unavailable,
        },
        &mut out,
    );
    encoder.finish(&mut out);
    let (events, complete) = decode(&out);
    assert_eq!(
        events,
        vec![StreamEvent::Error {
            message: "Overloaded".into(),
            error_type: Some("overloaded_error".into()),
            kind: ErrorKind::Unavailable
        }]
    );
    assert!(!complete);
}

#[test]
fn ping_event_is_the_anthropic_keep_alive() {
    assert_eq!(ping_event(), b"event: ping\ndata: {\"type\": \"ping\"}\n\n".to_vec());
    let (events, _) = decode(&ping_event());
    assert!(events.is_empty());
}

#[test]
fn direct_block_delta_bytes_equal_the_json_tree_encoding() {
    let texts =
        ["plain", "quote \" and \\ backslash", "line\nbreak\r\nand\ttab", "é ü 漢字 🎉", "\u{2028}\u{0001}", ""];
    for (wire, text) in texts.iter().enumerate() {
        for (kind, field) in
            [("text_delta", "text"), ("thinking_delta", "thinking"), ("input_json_delta", "partial_json")]
        {
            let mut direct = Vec::new();
            super::write_block_delta(&mut direct, wire, kind, field, text);
            let mut tree = Vec::new();
            super::write(
                &mut tree,
                "content_block_delta",
                &serde_json::json!({"type": "content_block_delta", "index": wire, "delta": {"type": kind, field: text}}),
            );
            assert_eq!(String::from_utf8(direct).unwrap(), String::from_utf8(tree).unwrap());
        }
    }
}
