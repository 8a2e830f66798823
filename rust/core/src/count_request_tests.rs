//! Tests of token-counting bodies: what the SDKs and the API references send is accepted, a
//! malformed body is refused naming the node, and the upstream body changes only the model.

use serde_json::json;

use super::*;
use crate::tokens::estimate_request_tokens;

fn refusal(body: &str, dialect: Dialect) -> (String, String) {
    match inspect_count_request(body.as_bytes(), dialect) {
        Err(CoreError::InvalidRequest { param, message }) => (param.unwrap_or_default(), message),
        other => panic!("{body}: {other:?}"),
    }
}

/// Bodies the google-genai SDK sends for `count_tokens` (it sends `contents` only), and what the
/// API reference documents besides (a whole generateContentRequest, snake_case names).
const GEMINI_ACCEPTED: &[&str] = &[
    r#"{"contents":[{"parts":[{"text":"alpha beta"}],"role":"user"}]}"#,
    r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"hello"}]},
        {"role":"user","parts":[{"text":"again"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}"#,
    r#"{"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"text/plain","data":"aGk="}}]}]}"#,
    r#"{"contents":[]}"#,
    r#"{"generateContentRequest":{"model":"models/gemini-2.5-flash","contents":[{"role":"user","parts":[{"text":"x"}]}],
        "systemInstruction":{"parts":[{"text":"be terse"}]},
        "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object"}}]}],
        "generationConfig":{"temperature":0}}}"#,
    r#"{"generate_content_request":{"model":"models/m","contents":[{"parts":[{"text":"x"}]}],
        "system_instruction":{"parts":[{"text":"s"}]}}}"#,
    // Both: the request is counted, `contents` ignored (still checked).
    r#"{"contents":[{"parts":[{"text":"a"}]}],"generateContentRequest":{"contents":[{"parts":[{"text":"b"}]}]}}"#,
    r#"{"contents":null,"generateContentRequest":{"contents":[]},"unknownField":{"anything":[1]}}"#,
];

#[test]
fn gemini_count_bodies_the_clients_send_pass() {
    for body in GEMINI_ACCEPTED {
        assert!(inspect_count_request(body.as_bytes(), Dialect::Gemini).is_ok(), "{body}");
    }
}

#[test]
fn malformed_gemini_count_bodies_name_the_node() {
    let table: &[(&str, &str, &str)] = &[
        (r#"{"contents":"hi"}"#, "contents", "'contents' must be an array, not a string"),
        (r#"{"contents":{"parts":[]}}"#, "contents", "'contents' must be an array, not an object"),
        (r#"{"contents":["hi"]}"#, "contents[0]", "'contents[0]' must be an object, not a string"),
        (r#"{"contents":[{"role":"user"}]}"#, "contents[0].parts", "'contents[0].parts' is required"),
        (r#"{"contents":[{"parts":"hi"}]}"#, "contents[0].parts", "'contents[0].parts' must be an array, not a string"),
        (
            r#"{"contents":[{"parts":[{"text":"a"},"b"]}]}"#,
            "contents[0].parts[1]",
            "'contents[0].parts[1]' must be an object, not a string",
        ),
        (
            r#"{"contents":[{"parts":[{"text":7}]}]}"#,
            "contents[0].parts[0].text",
            "'contents[0].parts[0].text' must be a string, not a number",
        ),
        (
            r#"{"contents":[{"parts":[{"inlineData":"aGk="}]}]}"#,
            "contents[0].parts[0].inlineData",
            "'contents[0].parts[0].inlineData' must be an object, not a string",
        ),
        (
            r#"{"generateContentRequest":5}"#,
            "generateContentRequest",
            "'generateContentRequest' must be an object, not a number",
        ),
        (
            r#"{"generateContentRequest":"models/x"}"#,
            "generateContentRequest",
            "'generateContentRequest' must be an object, not a string",
        ),
        (
            r#"{"generateContentRequest":[{"contents":[]}]}"#,
            "generateContentRequest",
            "'generateContentRequest' must be an object, not an array",
        ),
        (
            r#"{"generateContentRequest":{"model":"models/m"}}"#,
            "generateContentRequest.contents",
            "'generateContentRequest.contents' is required",
        ),
        (
            r#"{"generateContentRequest":{"contents":[{"parts":[0]}]}}"#,
            "generateContentRequest.contents[0].parts[0]",
            "'generateContentRequest.contents[0].parts[0]' must be an object, not a number",
        ),
        (
            r#"{"generateContentRequest":{"contents":[],"systemInstruction":"be terse"}}"#,
            "generateContentRequest.systemInstruction",
            "'generateContentRequest.systemInstruction' must be an object, not a string",
        ),
        (
            r#"{"generateContentRequest":{"contents":[],"tools":{"functionDeclarations":[]}}}"#,
            "generateContentRequest.tools",
            "'generateContentRequest.tools' must be an array, not an object",
        ),
        (
            r#"{"generate_content_request":true}"#,
            "generate_content_request",
            "'generate_content_request' must be an object, not a boolean",
        ),
        (r#"{}"#, "contents", "'contents' or 'generateContentRequest' is required"),
        (r#"{"contents":null}"#, "contents", "'contents' or 'generateContentRequest' is required"),
        (r#"{"model":"models/m"}"#, "contents", "'contents' or 'generateContentRequest' is required"),
    ];
    for (body, param, message) in table {
        assert_eq!(refusal(body, Dialect::Gemini), ((*param).to_owned(), (*message).to_owned()), "{body}");
    }
}

#[test]
fn malformed_json_and_non_objects_are_refused() {
    for body in ["", "[]", "\"x\"", r#"{"contents":[}"#, r#"{"contents":[]"#, r#"{"contents":[],"contents":[]}"#] {
        assert!(inspect_count_request(body.as_bytes(), Dialect::Gemini).is_err(), "{body}");
    }
}

#[test]
fn anthropic_count_bodies_take_the_messages_structure_without_max_tokens() {
    let ok = r#"{"model":"claude","system":"s","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
        "tools":[{"name":"f","input_schema":{"type":"object"}}]}"#;
    let info = inspect_count_request(ok.as_bytes(), Dialect::Anthropic).unwrap();
    assert_eq!(info.model.as_deref(), Some("claude"));
    let table: &[(&str, &str)] = &[
        (r#"{"model":"m","messages":"hi"}"#, "messages"),
        (r#"{"model":"m","messages":["hi"]}"#, "messages[0]"),
        (r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#, "messages[0].content[0].text"),
        (r#"{"model":"m","messages":[],"system":7}"#, "system"),
        (r#"{"model":"m","messages":[],"tools":{"name":"f"}}"#, "tools"),
        (r#"{"model":"m"}"#, "messages"),
    ];
    for (body, param) in table {
        assert_eq!(refusal(body, Dialect::Anthropic).0, *param, "{body}");
    }
}

#[test]
fn the_counted_request_is_the_generate_request_when_there_is_one() {
    let inner = json!({"contents": [{"parts": [{"text": "b"}]}]});
    let both = json!({"contents": [], "generateContentRequest": inner});
    assert_eq!(counted_request(&both, Dialect::Gemini), &inner);
    let plain = json!({"contents": []});
    assert_eq!(counted_request(&plain, Dialect::Gemini), &plain);
    assert_eq!(counted_request(&both, Dialect::Anthropic), &both);
}

#[test]
fn a_generate_request_is_estimated_with_its_system_instruction_and_tools() {
    let bare = br#"{"contents":[{"role":"user","parts":[{"text":"What is the weather in Paris?"}]}]}"#;
    let whole = br#"{"generateContentRequest":{"model":"models/m",
        "contents":[{"role":"user","parts":[{"text":"What is the weather in Paris?"}]}],
        "systemInstruction":{"parts":[{"text":"You answer in one short sentence."}]},
        "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather for a city",
            "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}]}}"#;
    let bare_tokens = estimate_request_tokens(bare, Dialect::Gemini).unwrap();
    let whole_tokens = estimate_request_tokens(whole, Dialect::Gemini).unwrap();
    assert!(whole_tokens > bare_tokens + 15, "{bare_tokens} vs {whole_tokens}");
}

#[test]
fn the_upstream_gets_its_own_model_name_and_every_other_byte() {
    let body = r#"{ "generateContentRequest" : {"model":"models/gemini/gemini-2.5-flash", "contents":[{"parts":[{"text":"x"}]}],"x":1} ,"contents":[]}"#;
    let out =
        String::from_utf8(count_request_body(body.as_bytes(), Dialect::Gemini, "gemini-2.5-flash").unwrap()).unwrap();
    assert_eq!(out, body.replace("models/gemini/gemini-2.5-flash", "models/gemini-2.5-flash"));

    let no_model = r#"{"generate_content_request":{"contents":[]}}"#;
    let out = String::from_utf8(count_request_body(no_model.as_bytes(), Dialect::Gemini, "m").unwrap()).unwrap();
    assert_eq!(out, r#"{"generate_content_request":{"contents":[],"model":"models/m"}}"#);

    let contents_only = r#"{"contents": [{"parts":[{"text":"x"}]}]}"#;
    let out = count_request_body(contents_only.as_bytes(), Dialect::Gemini, "m").unwrap();
    assert_eq!(out, contents_only.as_bytes());

    let anthropic = r#"{"model":"anthropic/claude-x","messages":[]}"#;
    let out =
        String::from_utf8(count_request_body(anthropic.as_bytes(), Dialect::Anthropic, "claude-x").unwrap()).unwrap();
    assert_eq!(out, r#"{"model":"claude-x","messages":[]}"#);
}
