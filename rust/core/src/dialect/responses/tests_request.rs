//! Tests of the Responses dialect: requests to and from the IR.

use serde_json::{json, Value};

use super::*;

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
