//! Tests of the request structure tables: what real clients send passes (the shared fixtures
//! and the SDK shapes below), what is malformed is refused with the node's path.

use std::path::Path as FsPath;

use super::*;
use crate::error::CoreError;
use crate::inspect::inspect_request;

const ALL: [Dialect; 4] = [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini, Dialect::Responses];

fn check(dialect: Dialect, body: &str) -> Result<(), (Option<String>, String)> {
    inspect_request(body.as_bytes(), dialect).map(|_| ()).map_err(|e| match e {
        CoreError::InvalidRequest { param, message } => (param, message),
        other => panic!("{other:?}"),
    })
}

fn dialect_named(name: &str) -> Dialect {
    Dialect::parse(name).unwrap()
}

#[test]
fn every_fixture_request_passes_in_its_dialect() {
    let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut bodies: Vec<(Dialect, std::path::PathBuf)> = vec![
        (Dialect::OpenAi, root.join("dialects/openai/request_full.json")),
        (Dialect::Anthropic, root.join("dialects/anthropic/request_claude_code.json")),
        (Dialect::Gemini, root.join("dialects/gemini/request_gemini_cli.json")),
        (Dialect::Responses, root.join("dialects/responses/codex_request.json")),
    ];
    for pair in std::fs::read_dir(root.join("pairs")).unwrap() {
        let pair = pair.unwrap().path();
        let name = pair.file_name().unwrap().to_string_lossy().into_owned();
        let (client, upstream) = name.split_once("_to_").unwrap();
        for case in std::fs::read_dir(&pair).unwrap() {
            let case = case.unwrap().path();
            bodies.push((dialect_named(client), case.join("request.json")));
            bodies.push((dialect_named(upstream), case.join("upstream_request.json")));
        }
    }
    let mut checked = 0;
    for (dialect, path) in bodies.iter().filter(|(_, p)| p.exists()) {
        let body = std::fs::read_to_string(path).unwrap();
        assert_eq!(check(*dialect, &body), Ok(()), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} fixture requests found");
}

/// Shapes the official SDKs send (and the API references document) beyond the fixtures.
const OPENAI_SDK_SHAPES: &[&str] = &[
    r#"{"model":"m","messages":[{"role":"user","content":[
        {"type":"text","text":"listen"},
        {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
        {"type":"file","file":{"file_id":"file-1"}},
        {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]}]}"#,
    r#"{"model":"m","messages":[{"role":"assistant","content":null,"refusal":null,"audio":null,
        "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},
                      {"id":"c2","type":"custom","custom":{"name":"g","input":"x"}}]},
        {"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"ok"}]},
        {"role":"assistant","content":[{"type":"refusal","refusal":"no"}],"name":"bot"},
        {"role":"function","name":"f","content":"legacy"},
        {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}}],
      "functions":[{"name":"f","parameters":{"type":"object"}}],"function_call":"auto",
      "tools":[{"type":"function","function":{"name":"f","strict":true}},{"type":"custom","custom":{"name":"g"}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},"stop":"END",
      "response_format":{"type":"json_object"},"logit_bias":{"50256":-100},"n":1,"modalities":["text"],
      "audio":{"voice":"alloy","format":"wav"},"prediction":{"type":"content","content":"x"},
      "web_search_options":{},"metadata":{"k":"v"},"store":false,"service_tier":"auto"}"#,
    r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":null,"tool_choice":null,"stop":null}"#,
];

const ANTHROPIC_SDK_SHAPES: &[&str] = &[
    r#"{"model":"m","max_tokens":5,"system":"plain","messages":[{"role":"user","content":[
        {"type":"image","source":{"type":"url","url":"https://x/y.png"}},
        {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="},
         "title":"t","context":"c","citations":{"enabled":true},"cache_control":{"type":"ephemeral","ttl":"1h"}},
        {"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello"}},
        {"type":"search_result","source":"https://x","title":"x","content":[{"type":"text","text":"found"}]},
        {"type":"container_upload","file_id":"file_1"},
        {"type":"text","text":"what?","citations":null}]}]}"#,
    r#"{"model":"m","max_tokens":5,"messages":[
        {"role":"user","content":"q"},
        {"role":"assistant","content":[
          {"type":"redacted_thinking","data":"EmwKAhgBEgy3"},
          {"type":"thinking","thinking":"","signature":""},
          {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
          {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[
            {"type":"web_search_result","url":"https://x","title":"x","encrypted_content":"abc","page_age":null}]},
          {"type":"web_search_tool_result","tool_use_id":"srvtoolu_2",
           "content":{"type":"web_search_tool_result_error","error_code":"max_uses_exceeded"}},
          {"type":"server_tool_use","id":"srvtoolu_3","name":"code_execution","input":{"code":"1"}},
          {"type":"code_execution_tool_result","tool_use_id":"srvtoolu_3",
           "content":{"type":"code_execution_result","stdout":"","stderr":"","return_code":0,"content":[]}},
          {"type":"mcp_tool_use","id":"mcptoolu_1","name":"echo","server_name":"s","input":{}},
          {"type":"mcp_tool_result","tool_use_id":"mcptoolu_1","is_error":false,"content":[{"type":"text","text":"e"}]},
          {"type":"tool_use","id":"toolu_1","name":"Read","input":{},"cache_control":{"type":"ephemeral"}}]},
        {"role":"user","content":[
          {"type":"tool_result","tool_use_id":"toolu_1","is_error":true},
          {"type":"tool_result","tool_use_id":"toolu_1","content":[
            {"type":"text","text":"see"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
            {"type":"search_result","source":"https://x","title":"t","content":[{"type":"text","text":"s"}]},
            {"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}],
      "tools":[{"type":"bash_20250124","name":"bash"},{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"},
               {"type":"custom","name":"c","input_schema":{"type":"object"}},
               {"type":"computer_20250124","name":"computer","display_width_px":1024,"display_height_px":768},
               {"type":"mcp_toolset","mcp_server_name":"s"}],
      "tool_choice":{"type":"tool","name":"bash","disable_parallel_tool_use":true},
      "thinking":{"type":"disabled"},"mcp_servers":[{"type":"url","url":"https://m","name":"s"}],
      "container":"c1","service_tier":"auto","top_k":5,"context_management":{"edits":[]}}"#,
    r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}],"system":[],"tools":[],"metadata":null}"#,
];

const GEMINI_SDK_SHAPES: &[&str] = &[
    // snake_case, as the REST API also takes it; roles may be left out.
    r#"{"contents":[{"parts":[{"text":"hi"},{"inline_data":{"mime_type":"image/png","data":"iVBO"}},
        {"file_data":{"mime_type":"application/pdf","file_uri":"gs://b/f"}},
        {"function_call":{"name":"f","args":{}}},{"function_response":{"name":"f","response":{"x":1}}},
        {"executable_code":{"language":"PYTHON","code":"1"}},
        {"code_execution_result":{"outcome":"OUTCOME_OK","output":"1"}},
        {"text":"seen","video_metadata":{"start_offset":"1s"}}]}],
      "system_instruction":{"parts":[{"text":"be terse"}]},
      "tools":[{"function_declarations":[{"name":"f","parameters_json_schema":{"type":"object"}}]},
               {"google_search":{}},{"code_execution":{}},{"url_context":{}}],
      "tool_config":{"function_calling_config":{"mode":"AUTO"}},
      "safety_settings":[{"category":"HARM_CATEGORY_HATE_SPEECH","threshold":"BLOCK_NONE"}],
      "generation_config":{"response_mime_type":"application/json","response_schema":{"type":"OBJECT"}},
      "cached_content":"cachedContents/1","labels":{"a":"b"}}"#,
    r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]},
        {"role":"model","parts":[{"functionCall":{"id":"c1","name":"f","args":{"a":[1]}},"thoughtSignature":"c2ln"}]},
        {"role":"user","parts":[{"functionResponse":{"id":"c1","name":"f","response":{"output":"x"},
          "parts":[{"inlineData":{"mimeType":"image/png","data":"iVBO"}}]}}]}],
      "systemInstruction":{"role":"system","parts":[]},"tools":[{"googleSearchRetrieval":{}}],
      "safetySettings":[],"generationConfig":{"candidateCount":1,"responseModalities":["TEXT"]}}"#,
];

#[test]
fn sdk_shapes_pass() {
    for (dialect, bodies) in [
        (Dialect::OpenAi, OPENAI_SDK_SHAPES),
        (Dialect::Anthropic, ANTHROPIC_SDK_SHAPES),
        (Dialect::Gemini, GEMINI_SDK_SHAPES),
    ] {
        for body in bodies {
            assert_eq!(check(dialect, body), Ok(()), "{dialect:?}: {body}");
        }
    }
    let responses = [
        r#"{"model":"m","input":"hi"}"#,
        r#"{"model":"m","input":[{"role":"user","content":"hi"},{"type":"item_reference","id":"x"},
            {"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"}]}],"tools":[]}"#,
        r#"{"model":"m","previous_response_id":"resp_1"}"#,
    ];
    for body in responses {
        assert_eq!(check(Dialect::Responses, body), Ok(()), "{body}");
    }
}

#[test]
fn wrongly_typed_bodies_are_refused_naming_the_node() {
    let cases: &[(Dialect, &str, &str)] = &[
        (Dialect::OpenAi, r#"{"model":"m","messages":[0,0]}"#, "messages[0]"),
        (Dialect::OpenAi, r#"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"user","content":{"text":"x"}}]}"#,
            "messages[0].content",
        ),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
            "messages[0].content[0].text",
        ),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":["a"]}]}]}"#,
            "messages[0].content[0].text",
        ),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":{"id":"c"}}]}"#,
            "messages[0].tool_calls",
        ),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function"}]}]}"#,
            "messages[0].tool_calls[0].function",
        ),
        (
            Dialect::OpenAi,
            r#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"parameters":{}}}]}"#,
            "tools[0].function.name",
        ),
        (Dialect::OpenAi, r#"{"model":"m","messages":[],"tools":["f"]}"#, "tools[0]"),
        (Dialect::OpenAi, r#"{"model":"m","messages":[],"stop":[1]}"#, "stop[0]"),
        (Dialect::OpenAi, r#"{"model":"m","messages":[],"tool_choice":1}"#, "tool_choice"),
        (Dialect::Anthropic, r#"{"model":"m","max_tokens":1,"messages":[0]}"#, "messages[0]"),
        (Dialect::Anthropic, r#"{"model":"m","max_tokens":1,"messages":[{"role":"user"}]}"#, "messages[0].content"),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"text":"x"}]}]}"#,
            "messages[0].content[0].type",
        ),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n"}]}]}"#,
            "messages[0].content[0].input",
        ),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":"{}"}]}]}"#,
            "messages[0].content[0].input",
        ),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[7]}]}]}"#,
            "messages[0].content[0].content[0]",
        ),
        (Dialect::Anthropic, r#"{"model":"m","max_tokens":1,"messages":[],"system":{"type":"text"}}"#, "system"),
        (
            Dialect::Anthropic,
            r#"{"model":"m","max_tokens":1,"messages":[],"system":[{"type":"text","text":1}]}"#,
            "system[0].text",
        ),
        (Dialect::Anthropic, r#"{"model":"m","max_tokens":1,"messages":[],"tool_choice":"auto"}"#, "tool_choice"),
        (Dialect::Gemini, r#"{"contents":[0]}"#, "contents[0]"),
        (Dialect::Gemini, r#"{"contents":[{"role":"user"}]}"#, "contents[0].parts"),
        (Dialect::Gemini, r#"{"contents":[{"role":"user","parts":"hi"}]}"#, "contents[0].parts"),
        (
            Dialect::Gemini,
            r#"{"contents":[{"parts":[{"functionCall":{"name":"f","args":"{}"}}]}]}"#,
            "contents[0].parts[0].functionCall.args",
        ),
        (
            Dialect::Gemini,
            r#"{"contents":[{"parts":[{"inline_data":{"data":5}}]}]}"#,
            "contents[0].parts[0].inline_data.data",
        ),
        (Dialect::Gemini, r#"{"contents":[],"systemInstruction":"be terse"}"#, "systemInstruction"),
        (
            Dialect::Gemini,
            r#"{"contents":[],"tools":[{"functionDeclarations":[{"description":"d"}]}]}"#,
            "tools[0].functionDeclarations[0].name",
        ),
        (Dialect::Responses, r#"{"model":"m","input":[0]}"#, "input[0]"),
        (Dialect::Responses, r#"{"model":"m","input":5}"#, "input"),
    ];
    for (dialect, body, param) in cases {
        let (got, message) = check(*dialect, body).expect_err(body);
        assert_eq!(got.as_deref(), Some(*param), "{dialect:?} {body}: {message}");
        assert!(message.contains(&format!("'{param}'")), "{message}");
    }
}

#[test]
fn missing_top_level_arrays_are_required_where_the_dialect_requires_them() {
    assert_eq!(check(Dialect::OpenAi, r#"{"model":"m"}"#).unwrap_err().0.as_deref(), Some("messages"));
    assert_eq!(
        check(Dialect::Anthropic, r#"{"model":"m","messages":null}"#).unwrap_err().0.as_deref(),
        Some("messages")
    );
    assert_eq!(check(Dialect::Gemini, r#"{"generationConfig":{}}"#).unwrap_err().0.as_deref(), Some("contents"));
    assert_eq!(check(Dialect::Responses, r#"{"model":"m"}"#), Ok(()));
}

/// Walks every table reachable from the dialects' roots (bounded, so a cycle fails the test).
fn visit(shape: &Shape, depth: usize, objects: &mut Vec<&'static Object>) -> usize {
    assert!(depth < 16, "request shapes nest too deep (a cycle?)");
    match shape {
        Shape::Obj(object) => {
            objects.push(object);
            1 + object.fields.iter().map(|f| visit(&f.shape, depth + 1, objects)).max().unwrap_or(0)
        }
        Shape::Arr(inner) => 1 + visit(inner, depth + 1, objects),
        Shape::Either(options) => options.iter().map(|s| visit(s, depth + 1, objects)).max().unwrap_or(0),
        Shape::Any | Shape::Str | Shape::Bool => 0,
    }
}

#[test]
fn tables_are_shallow_and_consistent() {
    for dialect in ALL {
        let mut objects = Vec::new();
        let depth = visit(&Shape::Obj(request_shape(dialect)), 0, &mut objects);
        assert!(depth <= 8, "{dialect:?}: {depth} levels");
        for object in objects {
            assert!(object.fields.len() <= 64);
            for (i, field) in object.fields.iter().enumerate() {
                assert!(object.fields[..i].iter().all(|f| f.key != field.key), "duplicate {}", field.key);
            }
            for variant in object.variants {
                assert!(object.fields.iter().any(|f| f.key == "type"), "variants need a 'type' field");
                for key in variant.requires {
                    assert!(object.fields.iter().any(|f| f.key == *key), "{} requires unlisted {key}", variant.tag);
                }
            }
        }
    }
}
