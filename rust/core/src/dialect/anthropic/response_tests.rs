use super::*;
use crate::usage::Usage;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../../../../../tests/fixtures/dialects/anthropic/response_thinking_tool.json"))
        .unwrap()
}

fn anthropic_opts() -> EncodeOptions {
    EncodeOptions { upstream: Some(Dialect::Anthropic), ..EncodeOptions::default() }
}

#[test]
fn realistic_response_to_ir() {
    let ir = response_to_ir(&fixture()).unwrap();
    assert_eq!(ir.id, "msg_01Aq9w938a90dw8q");
    assert_eq!(ir.model, "claude-sonnet-4-5-20250929");
    assert_eq!(ir.stop_reason, StopReason::ToolUse);
    assert_eq!(ir.stop_sequence, None);
    assert_eq!(
        ir.usage,
        Some(Usage {
            input_tokens: 1620,
            output_tokens: 350,
            cached_tokens: 1500,
            cache_creation_tokens: 20,
            reasoning_tokens: 0,
        })
    );
    assert_eq!(
        ir.parts,
        vec![
            Part::Reasoning {
                text: "I should look up the weather.".into(),
                signature: Some(
                    "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL".into()
                ),
                encrypted: None,
                origin: Some(Dialect::Anthropic),
            },
            Part::Reasoning {
                text: String::new(),
                signature: None,
                encrypted: Some("EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP".into()),
                origin: Some(Dialect::Anthropic),
            },
            Part::text("I'll check the current weather."),
            Part::ToolCall {
                id: "toolu_01A09q90qw90lq917835lq9".into(),
                name: "get_weather".into(),
                arguments: r#"{"location":"San Francisco, CA","unit":"celsius"}"#.into(),
                signature: None,
            },
        ]
    );
}

#[test]
fn anthropic_answer_round_trips_for_an_anthropic_upstream() {
    let original = fixture();
    let ir = response_to_ir(&original).unwrap();
    let body = response_from_ir(&ir, &anthropic_opts());
    let mut expected = original.clone();
    expected["content"][2].as_object_mut().unwrap().remove("citations");
    expected["usage"] = json!({
        "input_tokens": 100, "output_tokens": 350,
        "cache_creation_input_tokens": 20, "cache_read_input_tokens": 1500,
    });
    assert_eq!(body, expected);
    assert_eq!(response_to_ir(&body).unwrap(), ir);
}

#[test]
fn foreign_answer_gets_unsigned_thinking_and_msg_id() {
    let ir = ChatResponse {
        id: "chatcmpl-123".into(),
        model: "gpt-5".into(),
        created: Some(1),
        parts: vec![
            Part::Reasoning {
                text: "pondering".into(),
                signature: None,
                encrypted: Some("gAAAA-enc".into()),
                origin: Some(Dialect::Responses),
            },
            Part::Reasoning {
                text: String::new(),
                signature: None,
                encrypted: Some("only-encrypted".into()),
                origin: Some(Dialect::Responses),
            },
            Part::text("Hello"),
            Part::ToolCall { id: String::new(), name: "f".into(), arguments: "[1]".into(), signature: None },
        ],
        stop_reason: StopReason::EndTurn,
        stop_sequence: Some("ignored".into()),
        usage: Some(Usage {
            input_tokens: 50,
            output_tokens: 20,
            cached_tokens: 30,
            cache_creation_tokens: 0,
            reasoning_tokens: 10,
        }),
    };
    let opts = EncodeOptions {
        model: Some("client-model".into()),
        upstream: Some(Dialect::OpenAi),
        ..EncodeOptions::default()
    };
    let body = response_from_ir(&ir, &opts);
    assert_eq!(
        body,
        json!({
            "id": "msg_chatcmpl-123",
            "type": "message",
            "role": "assistant",
            "model": "client-model",
            "content": [
                {"type": "thinking", "thinking": "pondering", "signature": ""},
                {"type": "text", "text": "Hello"},
                {"type": "tool_use", "id": "toolu_chatcmpl-123_0", "name": "f", "input": {}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 20, "output_tokens": 20,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 30,
                      "output_tokens_details": {"thinking_tokens": 10}},
        })
    );
    // An Anthropic signature is withheld from the client when the upstream was not Anthropic.
    let signed = ChatResponse {
        parts: vec![Part::Reasoning {
            text: "x".into(),
            signature: Some("sig".into()),
            encrypted: None,
            origin: Some(Dialect::Anthropic),
        }],
        ..ir.clone()
    };
    assert_eq!(response_from_ir(&signed, &opts)["content"][0]["signature"], json!(""));
    assert_eq!(response_from_ir(&signed, &anthropic_opts())["content"][0]["signature"], json!("sig"));
    let with_id = EncodeOptions { response_id: Some("msg_gateway_1".into()), ..opts };
    assert_eq!(response_from_ir(&ir, &with_id)["id"], json!("msg_gateway_1"));
}

#[test]
fn stop_reasons_map_both_ways() {
    let pairs = [
        ("end_turn", StopReason::EndTurn),
        ("max_tokens", StopReason::MaxTokens),
        ("stop_sequence", StopReason::StopSequence),
        ("tool_use", StopReason::ToolUse),
        ("pause_turn", StopReason::PauseTurn),
        ("refusal", StopReason::Refusal),
        ("model_context_window_exceeded", StopReason::ContextWindowExceeded),
    ];
    for (wire, ir) in pairs {
        let body = json!({"id": "msg_1", "model": "m", "content": [], "stop_reason": wire,
                          "stop_sequence": if wire == "stop_sequence" { json!("STOP") } else { json!(null) }});
        let parsed = response_to_ir(&body).unwrap();
        assert_eq!(parsed.stop_reason, ir);
        let back = response_from_ir(&parsed, &EncodeOptions::default());
        assert_eq!(back["stop_reason"], json!(wire));
        assert_eq!(back["stop_sequence"], body["stop_sequence"]);
    }
    let mut other =
        response_to_ir(&json!({"id": "msg_1", "model": "m", "content": [], "stop_reason": "new_reason"})).unwrap();
    assert_eq!(other.stop_reason, StopReason::Other("new_reason".into()));
    assert_eq!(response_from_ir(&other, &EncodeOptions::default())["stop_reason"], json!("end_turn"));
    other.stop_reason = StopReason::ContentFilter;
    assert_eq!(response_from_ir(&other, &EncodeOptions::default())["stop_reason"], json!("refusal"));
}

#[test]
fn error_bodies_and_wrong_shapes_are_upstream_errors() {
    let err = response_to_ir(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        .unwrap_err();
    assert_eq!(err, CoreError::upstream("Overloaded"));
    for bad in [json!([]), json!("x"), json!({"content": "text"}), json!({"content": [1]})] {
        assert!(matches!(response_to_ir(&bad), Err(CoreError::UpstreamProtocol { .. })));
    }
    // Missing optional fields are tolerated; server tool blocks are dropped.
    let ir =
        response_to_ir(&json!({"content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
                                                {"type": "tool_use", "id": "t", "name": "n"}]}))
        .unwrap();
    assert_eq!(ir.stop_reason, StopReason::EndTurn);
    assert_eq!(ir.usage, None);
    assert!(matches!(&ir.parts[..], [Part::ToolCall { arguments, .. }] if arguments == "{}"));
}
