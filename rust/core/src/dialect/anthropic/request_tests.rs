use super::*;
use crate::dialect::anthropic::request_from_ir;
use crate::error::CoreError;
use serde_json::json;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../../../../../tests/fixtures/dialects/anthropic/request_claude_code.json"))
        .unwrap()
}

fn param_of(err: CoreError) -> String {
    match err {
        CoreError::InvalidRequest { param, .. } => param.unwrap_or_default(),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[test]
fn claude_code_request_to_ir() {
    let ir = request_to_ir(&fixture()).unwrap();
    assert_eq!(ir.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(ir.max_tokens, Some(32000));
    assert_eq!(ir.system.len(), 2);
    assert_eq!(
        ir.system[1],
        Part::Text {
            text: "Project instructions: use cargo.".into(),
            cache_control: Some(json!({"type": "ephemeral"})),
        }
    );
    // user, assistant, tool (two results), user (remaining text)
    let roles: Vec<Role> = ir.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::User, Role::Assistant, Role::Tool, Role::User]);
    assert!(matches!(
        &ir.messages[0].parts[1],
        Part::Image { source: ImageSource::Base64 { media_type, data }, .. }
            if media_type == "image/png" && data == "iVBORw0KGgo="
    ));
    let assistant = &ir.messages[1].parts;
    assert_eq!(
        assistant[0],
        Part::Reasoning {
            text: "I need to read the file.".into(),
            signature: Some("EuYBCkQYAiJAsig==".into()),
            encrypted: None,
            origin: Some(Dialect::Anthropic),
        }
    );
    assert_eq!(
        assistant[2],
        Part::ToolCall {
            id: "toolu_01".into(),
            name: "Read".into(),
            arguments: r#"{"file_path":"src/main.rs"}"#.into(),
            signature: None,
        }
    );
    let results = &ir.messages[2].parts;
    assert_eq!(
        results[0],
        Part::ToolResult {
            call_id: "toolu_01".into(),
            name: Some("Read".into()),
            content: vec![Part::text("fn main() {}")],
            is_error: false,
        }
    );
    // The tool_result's cache marker moves onto its last text.
    assert_eq!(
        results[1],
        Part::ToolResult {
            call_id: "toolu_02".into(),
            name: Some("Read".into()),
            content: vec![Part::Text { text: "[package]".into(), cache_control: Some(json!({"type": "ephemeral"})) }],
            is_error: false,
        }
    );
    assert_eq!(ir.messages[3].parts, vec![Part::text("Also explain it.")]);
    // The server tool is dropped, the custom one kept with its cache marker.
    assert_eq!(ir.tools.len(), 1);
    assert_eq!(ir.tools[0].name, "Read");
    assert_eq!(ir.tools[0].cache_control, Some(json!({"type": "ephemeral"})));
    assert_eq!(ir.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(ir.parallel_tool_calls, Some(false));
    assert_eq!(
        ir.reasoning,
        Some(Reasoning { effort: Some("medium".into()), budget_tokens: Some(10000), summary: None })
    );
    assert_eq!(ir.user.as_deref(), Some("user_abc123"));
    assert_eq!(ir.stop, vec!["\n\nHuman:".to_owned()]);
    assert!(ir.stream && ir.include_usage);
}

#[test]
fn anthropic_round_trip_through_ir_keeps_the_request() {
    let original = fixture();
    let ir = request_to_ir(&original).unwrap();
    let body = request_from_ir(&ir, "claude-sonnet-4-5-20250929").unwrap();
    let mut expected = original.clone();
    // Server tools cannot cross the IR; the tool_result cache marker moved to its text.
    expected["tools"].as_array_mut().unwrap().pop();
    expected["messages"][2]["content"][1] = json!({
        "type": "tool_result", "tool_use_id": "toolu_02",
        "content": [{"type": "text", "text": "[package]", "cache_control": {"type": "ephemeral"}}],
    });
    for key in [
        "model",
        "max_tokens",
        "system",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "stop_sequences",
        "stream",
    ] {
        assert_eq!(body[key], expected[key], "field {key}");
    }
    // And the IR of the rebuilt body is the IR we started from.
    assert_eq!(request_to_ir(&body).unwrap(), ir);
}

fn user(text: &str) -> Message {
    Message { role: Role::User, parts: vec![Part::text(text)] }
}

fn call(id: &str) -> Part {
    Part::ToolCall { id: id.into(), name: "lookup".into(), arguments: r#"{"q":"x"}"#.into(), signature: None }
}

fn result(id: &str, text: &str) -> Part {
    Part::ToolResult {
        call_id: id.into(),
        name: Some("lookup".into()),
        content: vec![Part::text(text)],
        is_error: false,
    }
}

#[test]
fn openai_style_history_is_merged_with_tool_results_first() {
    let ir = ChatRequest {
        system: vec![Part::text("sys one"), Part::text("sys two")],
        messages: vec![
            user("hi"),
            Message { role: Role::Assistant, parts: vec![Part::text(""), call("c1"), call("c2")] },
            Message { role: Role::Tool, parts: vec![result("c1", "one")] },
            Message { role: Role::Tool, parts: vec![result("c2", "two")] },
            user("thanks"),
        ],
        max_tokens: Some(100),
        temperature: Some(1.5),
        top_p: Some(0.9),
        top_k: Some(40),
        stop: vec!["END".into()],
        seed: Some(7),
        user: Some("u1".into()),
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "claude-haiku-4-5").unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "sys one"}, {"type": "text", "text": "sys two"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "c1", "name": "lookup", "input": {"q": "x"}},
                    {"type": "tool_use", "id": "c2", "name": "lookup", "input": {"q": "x"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "c1", "content": "one"},
                    {"type": "tool_result", "tool_use_id": "c2", "content": "two"},
                    {"type": "text", "text": "thanks"},
                ]},
            ],
            "stop_sequences": ["END"],
            "temperature": 1.0,
            "top_k": 40,
            "metadata": {"user_id": "u1"},
        })
    );
}

#[test]
fn tool_choice_and_parallel_map_to_anthropic() {
    let tool = Tool {
        name: "f".into(),
        description: Some("does f".into()),
        parameters: json!({"properties": {"a": {"type": "string"}}}),
        strict: Some(true),
        cache_control: None,
    };
    let mut ir = ChatRequest { messages: vec![user("go")], tools: vec![tool], ..ChatRequest::default() };
    let cases = [
        (Some(ToolChoice::None), None, json!({"type": "none"})),
        (Some(ToolChoice::Auto), None, json!({"type": "auto"})),
        (Some(ToolChoice::Required), Some(false), json!({"type": "any", "disable_parallel_tool_use": true})),
        (Some(ToolChoice::Tool("f".into())), None, json!({"type": "tool", "name": "f"})),
        (None, Some(false), json!({"type": "auto", "disable_parallel_tool_use": true})),
    ];
    for (choice, parallel, expected) in cases {
        ir.tool_choice = choice;
        ir.parallel_tool_calls = parallel;
        let body = request_from_ir(&ir, "m").unwrap();
        assert_eq!(body["tool_choice"], expected);
        assert_eq!(
            body["tools"],
            json!([{"name": "f", "description": "does f",
                    "input_schema": {"properties": {"a": {"type": "string"}}, "type": "object"}}])
        );
    }
    ir.tool_choice = None;
    ir.parallel_tool_calls = None;
    assert!(request_from_ir(&ir, "m").unwrap().get("tool_choice").is_none());
    // No tools: no tool_choice either.
    ir.tools.clear();
    ir.tool_choice = Some(ToolChoice::Required);
    assert!(request_from_ir(&ir, "m").unwrap().get("tool_choice").is_none());
}

#[test]
fn reasoning_effort_and_budget_become_thinking() {
    let mut ir = ChatRequest {
        messages: vec![user("think")],
        max_tokens: Some(4000),
        temperature: Some(0.2),
        top_p: Some(0.5),
        reasoning: Some(Reasoning { effort: Some("high".into()), ..Reasoning::default() }),
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 32768}));
    assert_eq!(body["max_tokens"], json!(32768 + 4096));
    assert!(body.get("temperature").is_none() && body.get("top_p").is_none());

    ir.reasoning = Some(Reasoning { effort: Some("xhigh".into()), ..Reasoning::default() });
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(body["thinking"]["budget_tokens"], json!(64000 - 4096));
    assert_eq!(body["max_tokens"], json!(64000));

    ir.reasoning = Some(Reasoning { budget_tokens: Some(500), ..Reasoning::default() });
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(body["thinking"]["budget_tokens"], json!(1024));
    assert_eq!(body["max_tokens"], json!(4000));

    for effort in ["none", "minimal"] {
        ir.reasoning = Some(Reasoning { effort: Some(effort.into()), ..Reasoning::default() });
        let body = request_from_ir(&ir, "m").unwrap();
        assert!(body.get("thinking").is_none());
        assert_eq!(body["temperature"], json!(0.2));
        assert!(body.get("top_p").is_none(), "only temperature of the pair");
    }
    ir.reasoning = Some(Reasoning { budget_tokens: Some(0), effort: Some("high".into()), ..Reasoning::default() });
    assert!(request_from_ir(&ir, "m").unwrap().get("thinking").is_none());
}

#[test]
fn thinking_is_not_requested_when_the_api_would_reject_it() {
    let reasoning = Some(Reasoning { effort: Some("medium".into()), ..Reasoning::default() });
    // Tool loop in progress whose assistant turn has no signed thinking (an OpenAI history).
    let ir = ChatRequest {
        messages: vec![
            user("go"),
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::Reasoning {
                        text: "openai reasoning".into(),
                        signature: None,
                        encrypted: None,
                        origin: Some(Dialect::OpenAi),
                    },
                    call("c1"),
                ],
            },
            Message { role: Role::Tool, parts: vec![result("c1", "ok")] },
        ],
        tools: vec![Tool {
            name: "lookup".into(),
            description: None,
            parameters: json!({"type": "object"}),
            strict: None,
            cache_control: None,
        }],
        reasoning,
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert!(body.get("thinking").is_none());
    assert_eq!(
        body["messages"][1]["content"],
        json!([{"type": "tool_use", "id": "c1", "name": "lookup", "input": {"q": "x"}}])
    );

    // Same loop with a signed Anthropic thinking block: thinking stays on, block first.
    let mut signed = ir.clone();
    signed.messages[1].parts[0] = Part::Reasoning {
        text: "claude thought".into(),
        signature: Some("sig".into()),
        encrypted: None,
        origin: Some(Dialect::Anthropic),
    };
    signed.messages[1].parts.swap(0, 1);
    let body = request_from_ir(&signed, "m").unwrap();
    assert_eq!(body["thinking"]["type"], json!("enabled"));
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": "claude thought", "signature": "sig"})
    );

    // Forced tool use: no thinking.
    let mut forced = signed.clone();
    forced.tool_choice = Some(ToolChoice::Required);
    assert!(request_from_ir(&forced, "m").unwrap().get("thinking").is_none());
}

#[test]
fn reasoning_is_only_sent_back_to_anthropic_with_a_signature() {
    let reasoning = |signature: Option<&str>, encrypted: Option<&str>, origin| Part::Reasoning {
        text: "t".into(),
        signature: signature.map(str::to_owned),
        encrypted: encrypted.map(str::to_owned),
        origin,
    };
    let ir = ChatRequest {
        messages: vec![
            user("q"),
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::text("answer"),
                    reasoning(Some("sig"), None, Some(Dialect::Anthropic)),
                    reasoning(None, Some("blob"), Some(Dialect::Anthropic)),
                    reasoning(None, None, None),
                    reasoning(Some(""), None, Some(Dialect::Anthropic)),
                    reasoning(None, Some("rs_enc"), Some(Dialect::Responses)),
                ],
            },
            user("next"),
        ],
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "t", "signature": "sig"},
            {"type": "redacted_thinking", "data": "blob"},
            {"type": "text", "text": "answer"},
        ])
    );
}

#[test]
fn foreign_tool_ids_are_rewritten_consistently() {
    let ir = ChatRequest {
        messages: vec![
            user("go"),
            Message { role: Role::Assistant, parts: vec![call("functions.lookup:0")] },
            Message { role: Role::Tool, parts: vec![result("functions.lookup:0", "ok")] },
        ],
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(body["messages"][1]["content"][0]["id"], json!("functions_lookup_0"));
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], json!("functions_lookup_0"));
}

#[test]
fn history_starting_with_assistant_gets_a_user_turn() {
    let ir = ChatRequest {
        messages: vec![Message { role: Role::Assistant, parts: vec![Part::text("Hello, how can I help?")] }],
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(body["messages"][0], json!({"role": "user", "content": [{"type": "text", "text": "(continue)"}]}));
    assert_eq!(body["messages"][1]["role"], json!("assistant"));
    assert_eq!(body["max_tokens"], json!(8192));

    let empty = request_from_ir(&ChatRequest::default(), "m").unwrap();
    assert_eq!(empty["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn images_structured_output_and_errors_in_tool_results() {
    let ir = ChatRequest {
        messages: vec![
            Message {
                role: Role::User,
                parts: vec![
                    Part::Image {
                        source: ImageSource::Url("data:image/jpeg;base64,/9j/4AAQ".into()),
                        detail: Some("high".into()),
                    },
                    Part::Image { source: ImageSource::Url("https://example.com/cat.png".into()), detail: None },
                ],
            },
            Message {
                role: Role::Assistant,
                parts: vec![Part::ToolCall {
                    id: "c1".into(),
                    name: "shot".into(),
                    arguments: "not json".into(),
                    signature: None,
                }],
            },
            Message {
                role: Role::Tool,
                parts: vec![Part::ToolResult {
                    call_id: "c1".into(),
                    name: None,
                    content: vec![
                        Part::text("failed"),
                        Part::Image {
                            source: ImageSource::Base64 { media_type: "image/png".into(), data: "AAA".into() },
                            detail: None,
                        },
                    ],
                    is_error: true,
                }],
            },
        ],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            strict: Some(true),
        }),
        ..ChatRequest::default()
    };
    let body = request_from_ir(&ir, "m").unwrap();
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        ])
    );
    assert_eq!(body["messages"][1]["content"][0]["input"], json!({}));
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "c1", "is_error": true, "content": [
            {"type": "text", "text": "failed"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        ]})
    );
    let system = body["system"].as_array().unwrap();
    let instruction = system[0]["text"].as_str().unwrap();
    assert!(instruction.contains("\"answer\"") && instruction.contains(r#"{"type":"object""#));

    let mut ir = ir;
    ir.response_format = Some(ResponseFormat::JsonObject);
    let body = request_from_ir(&ir, "m").unwrap();
    assert!(body["system"][0]["text"].as_str().unwrap().contains("JSON object"));
}

#[test]
fn request_details_to_ir() {
    let body = json!({
        "model": "claude-opus-4-5",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc text"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "synthesised", "signature": ""},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "text", "text": "ok"},
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "is_error": true}]},
        ],
        "tool_choice": {"type": "any"},
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 5,
    });
    let ir = request_to_ir(&body).unwrap();
    assert_eq!(ir.system, vec![Part::text("Be brief.")]);
    assert_eq!(
        ir.messages[0].parts,
        vec![Part::text("doc text"), Part::Image { source: ImageSource::Url("https://x/y.png".into()), detail: None },]
    );
    assert_eq!(
        ir.messages[1].parts,
        vec![
            Part::Reasoning { text: "synthesised".into(), signature: None, encrypted: None, origin: None },
            Part::Reasoning {
                text: String::new(),
                signature: None,
                encrypted: Some("opaque".into()),
                origin: Some(Dialect::Anthropic),
            },
            Part::text("ok"),
        ]
    );
    assert_eq!(ir.messages[2].role, Role::Tool);
    assert_eq!(
        ir.messages[2].parts,
        vec![Part::ToolResult { call_id: "t9".into(), name: None, content: vec![], is_error: true }]
    );
    assert_eq!(ir.tool_choice, Some(ToolChoice::Required));
    assert_eq!(ir.parallel_tool_calls, None);
    assert_eq!(ir.reasoning, Some(Reasoning { effort: Some("xhigh".into()), ..Reasoning::default() }));
    assert_eq!(
        ir.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "output".into(),
            schema: json!({"type": "object"}),
            strict: Some(true)
        })
    );
    assert_eq!((ir.temperature, ir.top_p, ir.top_k), (Some(0.5), Some(0.9), Some(5)));
    assert!(!ir.stream && !ir.include_usage);
    // The synthesised thinking block (empty signature) is never sent upstream.
    let back = request_from_ir(&ir, "m").unwrap();
    assert_eq!(
        back["messages"][1]["content"],
        json!([{"type": "redacted_thinking", "data": "opaque"}, {"type": "text", "text": "ok"}])
    );
}

#[test]
fn malformed_requests_name_the_field() {
    let base = || json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert!(request_to_ir(&base()).is_ok());
    assert!(request_to_ir(&json!([1])).is_err());
    // (parent pointer, key, new value or None to remove, expected param)
    let cases: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("", "max_tokens", None, "max_tokens"),
        ("", "max_tokens", Some(json!(-1)), "max_tokens"),
        ("", "messages", None, "messages"),
        ("", "messages", Some(json!({})), "messages"),
        ("/messages/0", "role", Some(json!("system")), "messages[0].role"),
        ("/messages/0", "content", Some(json!(5)), "messages[0].content"),
        ("/messages/0", "content", Some(json!([{"type": "text"}])), "messages[0].content[0].text"),
        ("/messages/0", "content", Some(json!(["x"])), "messages[0].content[0]"),
        (
            "/messages/0",
            "content",
            Some(json!([{"type": "tool_use", "id": "a", "name": "b", "input": {}}])),
            "messages[0].content[0]",
        ),
        (
            "/messages/0",
            "content",
            Some(json!([{"type": "image", "source": {"type": "base64", "data": "x"}}])),
            "messages[0].content[0].source.media_type",
        ),
        ("", "system", Some(json!([{"type": "image"}])), "system[0].type"),
        ("", "tools", Some(json!([{"name": "f"}])), "tools[0].input_schema"),
        ("", "tool_choice", Some(json!({"type": "tool"})), "tool_choice.name"),
        ("", "tool_choice", Some(json!({"type": "sometimes"})), "tool_choice.type"),
        ("", "thinking", Some(json!({"type": "enabled"})), "thinking.budget_tokens"),
        ("", "stop_sequences", Some(json!([1])), "stop_sequences"),
        ("", "temperature", Some(json!("hot")), "temperature"),
        ("", "metadata", Some(json!({"user_id": 3})), "metadata.user_id"),
        ("", "stream", Some(json!("yes")), "stream"),
    ];
    for (parent, key, value, field) in cases {
        let mut body = base();
        let obj = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(value) => obj.insert(key.to_owned(), value),
            None => obj.remove(key),
        };
        let err = request_to_ir(&body).expect_err(field);
        assert_eq!(param_of(err), field);
    }
}

#[test]
fn arbitrary_json_never_panics() {
    let samples = [
        json!(null),
        json!("x"),
        json!({"max_tokens": 1, "messages": [null, 1, "s", [], {"role": null}]}),
        json!({"max_tokens": 1, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [1, {"type": 2}]}]}]}),
        json!({"max_tokens": 1, "messages": [], "tools": [1], "system": [{}]}),
        json!({"max_tokens": 1, "messages": [], "output_config": {"format": {"type": "json_schema", "schema": 1}}}),
    ];
    for sample in samples {
        let _ = request_to_ir(&sample);
    }
}
