use serde_json::{json, Value};

use super::*;
use crate::dialect::{EncodeOptions, StreamDecode, StreamEncode};
use crate::ir::{BlockKind, ChatResponse, StopReason, StreamEvent};
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

fn param_of(err: CoreError) -> Option<String> {
    match err {
        CoreError::InvalidRequest { param, .. } => param,
        other => panic!("expected an invalid-request error, got {other:?}"),
    }
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

fn text(s: &str) -> Part {
    Part::text(s)
}

// ---------------------------------------------------------------------------------------------
// Requests

#[test]
fn codex_request_maps_to_ir() {
    let req = request_to_ir(&parse(fixture!("codex_request.json"))).unwrap();
    assert_eq!(req.model.as_deref(), Some("gpt-5-codex"));
    assert_eq!(req.system.len(), 2);
    assert!(matches!(&req.system[0], Part::Text { text, .. } if text.starts_with("You are Codex")));
    assert!(matches!(&req.system[1], Part::Text { text, .. } if text.contains("workspace-write")));

    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::User, Role::User, Role::Assistant, Role::Tool, Role::User]);
    let user = &req.messages[1].parts;
    assert!(matches!(
        &user[1],
        Part::Image { source: ImageSource::Base64 { media_type, data }, detail: Some(d) }
            if media_type == "image/png" && data.starts_with("iVBOR") && d == "auto"
    ));
    let assistant = &req.messages[2].parts;
    assert_eq!(assistant.len(), 4, "reasoning, text and two calls merge into one turn");
    assert!(matches!(
        &assistant[0],
        Part::Reasoning { text, encrypted: Some(e), origin: Some(Dialect::Responses), signature: None }
            if text.starts_with("**Inspecting") && e.starts_with("gAAAA")
    ));
    assert_eq!(assistant[1], text("The screenshot is a single pixel. Listing files now."));
    assert!(
        matches!(&assistant[2], Part::ToolCall { id, name, .. } if id == "call_Xy12AbCdEf34GhIjKl56MnOp" && name == "shell")
    );
    assert!(matches!(&assistant[3], Part::ToolCall { name, .. } if name == "read_file"));
    let tool = &req.messages[3].parts;
    assert_eq!(tool.len(), 2, "consecutive outputs merge into one tool turn");
    assert!(matches!(
        &tool[1],
        Part::ToolResult { call_id, name: Some(n), content, is_error: false }
            if call_id == "call_Qr78StUvWx90YzAbCd12EfGh" && n == "read_file" && content == &vec![text("# Demo")]
    ));
    assert_eq!(req.messages[4].parts, vec![text("Thanks. Now summarise.")]);

    assert_eq!(req.tools.len(), 2, "web_search and custom tools are dropped");
    assert_eq!(req.tools[0].strict, Some(false));
    assert_eq!(req.tools[1].strict, Some(true));
    assert_eq!(req.tools[0].parameters["required"], json!(["command"]));
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.parallel_tool_calls, Some(true));
    assert_eq!(
        req.reasoning,
        Some(Reasoning { effort: Some("medium".into()), budget_tokens: None, summary: Some("auto".into()) })
    );
    assert!(req.stream);
    assert_eq!(req.response_format, None);
}

#[test]
fn string_input_and_simple_fields() {
    let req = request_to_ir(&json!({
        "model": "gpt-4.1",
        "instructions": "Be brief.",
        "input": "Hello",
        "max_output_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "tool_choice": {"type": "function", "name": "lookup"},
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}},
        "safety_identifier": "user-42",
        "store": true,
        "previous_response_id": "resp_prev",
        "metadata": {"k": "v"}
    }))
    .unwrap();
    assert_eq!(req.system, vec![text("Be brief.")]);
    assert_eq!(req.messages, vec![Message { role: Role::User, parts: vec![text("Hello")] }]);
    assert_eq!(req.max_tokens, Some(256));
    assert_eq!(req.temperature, Some(0.2));
    assert_eq!(req.top_p, Some(0.9));
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("lookup".into())));
    assert_eq!(
        req.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object"}),
            strict: Some(true)
        })
    );
    assert_eq!(req.user.as_deref(), Some("user-42"));
    assert!(!req.stream);
}

#[test]
fn role_only_items_system_in_order_and_url_images() {
    let req = request_to_ir(&json!({
        "instructions": "first",
        "input": [
            {"role": "system", "content": "second"},
            {"role": "user", "content": [
                {"type": "input_image", "image_url": "https://example.com/cat.png"},
                {"type": "input_image", "file_id": "file-123"},
                {"type": "input_file", "file_id": "file-9"}
            ]},
            {"role": "developer", "content": [{"type": "input_text", "text": "third"}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
            {"role": "user", "content": "ok"}
        ]
    }))
    .unwrap();
    assert_eq!(req.system, vec![text("first"), text("second"), text("third")]);
    assert_eq!(req.messages.len(), 3);
    assert_eq!(
        req.messages[0].parts,
        vec![Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()), detail: None }]
    );
    assert_eq!(req.messages[1].parts, vec![text("I can't.")]);
}

fn rich_ir() -> ChatRequest {
    ChatRequest {
        model: Some("m".into()),
        system: vec![text("sys")],
        messages: vec![
            Message {
                role: Role::User,
                parts: vec![
                    text("look"),
                    Part::Image {
                        source: ImageSource::Base64 { media_type: "image/jpeg".into(), data: "AAAA".into() },
                        detail: Some("high".into()),
                    },
                ],
            },
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::Reasoning {
                        text: "thinking".into(),
                        signature: None,
                        encrypted: Some("enc".into()),
                        origin: Some(Dialect::Responses),
                    },
                    text("calling"),
                    Part::ToolCall {
                        id: "c1".into(),
                        name: "f".into(),
                        arguments: "{\"a\":1}".into(),
                        signature: None,
                    },
                    Part::ToolCall { id: "c2".into(), name: "g".into(), arguments: "{}".into(), signature: None },
                ],
            },
            Message {
                role: Role::Tool,
                parts: vec![
                    Part::ToolResult {
                        call_id: "c1".into(),
                        name: Some("f".into()),
                        content: vec![text("one")],
                        is_error: false,
                    },
                    Part::ToolResult {
                        call_id: "c2".into(),
                        name: Some("g".into()),
                        content: vec![
                            text("two"),
                            Part::Image {
                                source: ImageSource::Url("https://x/y.png".into()),
                                detail: Some("low".into()),
                            },
                        ],
                        is_error: false,
                    },
                ],
            },
            Message { role: Role::User, parts: vec![text("and now?")] },
        ],
        tools: vec![Tool {
            name: "f".into(),
            description: Some("does f".into()),
            parameters: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            strict: Some(false),
            cache_control: None,
        }],
        tool_choice: Some(ToolChoice::Required),
        parallel_tool_calls: Some(false),
        max_tokens: Some(1000),
        temperature: Some(0.5),
        top_p: Some(0.8),
        response_format: Some(ResponseFormat::JsonObject),
        reasoning: Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: None,
            summary: Some("detailed".into()),
        }),
        stream: true,
        include_usage: true,
        user: Some("u1".into()),
        ..Default::default()
    }
}

#[test]
fn request_round_trips_through_the_ir() {
    let ir = rich_ir();
    let body = request_from_ir(&ir, "m").unwrap();
    let back = request_to_ir(&body).unwrap();
    assert_eq!(back, ir);
}

#[test]
fn request_from_ir_shape() {
    let mut ir = rich_ir();
    ir.system.push(text("sys2"));
    ir.reasoning = Some(Reasoning { effort: None, budget_tokens: Some(10_000), summary: None });
    ir.tools[0].strict = None;
    ir.tool_choice = Some(ToolChoice::Tool("f".into()));
    ir.response_format =
        Some(ResponseFormat::JsonSchema { name: "out".into(), schema: json!({"type": "object"}), strict: None });
    // Reasoning from another provider is dropped, never forwarded.
    if let Some(Part::Reasoning { origin, .. }) = ir.messages[1].parts.get_mut(0) {
        *origin = Some(Dialect::Anthropic);
    }
    let body = request_from_ir(&ir, "gpt-5").unwrap();
    assert_eq!(body["model"], "gpt-5");
    assert_eq!(body["instructions"], "sys\n\nsys2");
    assert_eq!(body["reasoning"], json!({"effort": "medium", "summary": "auto"}));
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_output_tokens"], 1000);
    assert_eq!(body["tool_choice"], json!({"type": "function", "name": "f"}));
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "f", "description": "does f",
                "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}, "strict": false}])
    );
    assert_eq!(body["text"], json!({"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}}));
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64,AAAA", "detail": "high"}
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [
                {"type": "input_text", "text": "two"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "low"}
            ]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and now?"}]}
        ])
    );
    assert!(body.get("top_k").is_none() && body.get("stop").is_none());
}

#[test]
fn responses_reasoning_goes_back_without_id() {
    let body = request_from_ir(&rich_ir(), "m").unwrap();
    assert_eq!(
        body["input"][1],
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}], "encrypted_content": "enc"})
    );
}

#[test]
fn reasoning_controls() {
    let with = |r: Reasoning| {
        let ir = ChatRequest { reasoning: Some(r), ..Default::default() };
        request_from_ir(&ir, "m").unwrap()
    };
    let none = with(Reasoning { effort: Some("none".into()), ..Default::default() });
    assert_eq!(none["reasoning"], json!({"effort": "none"}));
    assert!(none.get("include").is_none());
    let zero = with(Reasoning { budget_tokens: Some(0), ..Default::default() });
    assert!(zero.get("reasoning").is_none() && zero.get("include").is_none());
    let big = with(Reasoning { budget_tokens: Some(40_000), summary: Some("concise".into()), ..Default::default() });
    assert_eq!(big["reasoning"], json!({"effort": "high", "summary": "concise"}));
    let plain = request_from_ir(&ChatRequest::default(), "m").unwrap();
    assert!(plain.get("reasoning").is_none() && plain.get("instructions").is_none());
    assert_eq!(plain["input"], json!([]));
}

#[test]
fn malformed_requests_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"input": 5}), "input"),
        (json!({"model": 1, "input": "x"}), "model"),
        (json!({"input": [1]}), "input[0]"),
        (json!({"input": [{"role": "robot", "content": "x"}]}), "input[0].role"),
        (json!({"input": [{"role": "user", "content": 3}]}), "input[0].content"),
        (json!({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}), "input[0].content[0].text"),
        (json!({"input": [{"role": "user", "content": ["x"]}]}), "input[0].content[0]"),
        (json!({"input": [{"type": "function_call", "call_id": "c"}]}), "input[0].name"),
        (
            json!({"input": [{"type": "function_call", "name": "f", "call_id": "c", "arguments": 3}]}),
            "input[0].arguments",
        ),
        (json!({"input": [{"type": "function_call_output", "output": "x"}]}), "input[0].call_id"),
        (json!({"input": [{"type": "function_call_output", "call_id": "c", "output": 7}]}), "input[0].output"),
        (json!({"input": [{"type": "reasoning", "summary": "x"}]}), "input[0].summary"),
        (json!({"tools": {}}), "tools"),
        (json!({"tools": [{"type": "function"}]}), "tools[0].name"),
        (json!({"tools": [{"type": "function", "name": "f", "parameters": "x"}]}), "tools[0].parameters"),
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (json!({"tool_choice": {"type": "function"}}), "tool_choice.name"),
        (json!({"max_output_tokens": -1}), "max_output_tokens"),
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"stream": "yes"}), "stream"),
        (json!({"reasoning": "high"}), "reasoning"),
        (json!({"text": {"format": {"type": "xml"}}}), "text.format.type"),
        (json!({"text": {"format": {"type": "json_schema", "name": "x"}}}), "text.format.schema"),
    ];
    for (body, field) in cases {
        let err = request_to_ir(&body).expect_err(&body.to_string());
        assert_eq!(param_of(err).as_deref(), Some(field), "{body}");
    }
    assert!(request_to_ir(&json!([1, 2])).is_err());
    assert!(request_to_ir(&json!(null)).is_err());
}

#[test]
fn unknown_items_and_fields_are_ignored() {
    let req = request_to_ir(&json!({
        "input": [
            {"type": "item_reference", "id": "msg_1"},
            {"id": "rs_1"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "reasoning", "summary": []},
            {"type": "message", "role": "user", "content": "hi", "status": "completed"}
        ],
        "tools": [{"type": "function", "function": {"name": "nested", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "web_search"},
        "truncation": "auto",
        "stream": null
    }))
    .unwrap();
    assert_eq!(req.messages.len(), 1);
    assert_eq!(req.tools[0].name, "nested");
    assert_eq!(req.tool_choice, None);
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
            error_type: Some("server_error".into())
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
            error_type: Some("rate_limit_exceeded".into())
        }]
    );
    let out = feed(&mut d, json!({"type": "error", "error": {"type": "server_error", "message": "oops"}})).unwrap();
    assert_eq!(out, vec![StreamEvent::Error { message: "oops".into(), error_type: Some("server_error".into()) }]);
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
        StreamEvent::Error { message: "overloaded".into(), error_type: Some("overloaded_error".into()) },
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
