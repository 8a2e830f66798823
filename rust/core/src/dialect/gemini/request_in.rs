//! Gemini `GenerateContentRequest` -> IR request (what a Gemini client sends).

use serde_json::{json, Map, Value};

use super::schema::to_json_schema;
use super::{read_part, CallLedger, ReadPart, Source};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatRequest, Message, Part, Reasoning, ResponseFormat, Role, Tool, ToolChoice};

const SOURCE: Source = Source::Request;

fn invalid(message: impl Into<String>, field: &str) -> CoreError {
    CoreError::invalid_param(message, field)
}

fn object<'a>(value: &'a Value, field: &str) -> CoreResult<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| invalid(format!("{field} must be an object"), field))
}

fn opt_object<'a>(body: &'a Map<String, Value>, key: &str, field: &str) -> CoreResult<Option<&'a Map<String, Value>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => object(v, field).map(Some),
    }
}

fn opt_f64(obj: &Map<String, Value>, key: &str, field: &str) -> CoreResult<Option<f64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{field}.{key} must be a number"), &format!("{field}.{key}"))),
    }
}

/// A non-negative whole number (Gemini's SDK sends `topK` as a float, so `40.0` is fine).
fn opt_u64(obj: &Map<String, Value>, key: &str, field: &str) -> CoreResult<Option<u64>> {
    let err = || invalid(format!("{field}.{key} must be a non-negative integer"), &format!("{field}.{key}"));
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match (v.as_u64(), v.as_f64()) {
            (Some(n), _) => Ok(Some(n)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1e19 => Ok(Some(f as u64)),
            _ => Err(err()),
        },
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, field: &str) -> CoreResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{field}.{key} must be a string"), &format!("{field}.{key}"))),
    }
}

fn parts_of<'a>(content: &'a Map<String, Value>, field: &str) -> CoreResult<&'a [Value]> {
    match content.get("parts") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(parts)) => Ok(parts),
        Some(_) => Err(invalid(format!("{field}.parts must be an array"), &format!("{field}.parts"))),
    }
}

/// Reads a Gemini `GenerateContentRequest` body. The model comes from the URL.
pub fn request_to_ir(body: &Value) -> CoreResult<ChatRequest> {
    let body = body.as_object().ok_or_else(|| CoreError::invalid("request body must be a JSON object"))?;
    let mut request = ChatRequest::default();
    let mut calls = CallLedger::new("call_".into());

    match body.get("systemInstruction") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => request.system.push(Part::text(text.clone())),
        Some(system) => {
            let field = "systemInstruction";
            for (j, part) in parts_of(object(system, field)?, field)?.iter().enumerate() {
                let field = format!("{field}.parts[{j}]");
                match read_part(part, &field, SOURCE, &mut calls, 0)? {
                    ReadPart::Parts(parts) => request
                        .system
                        .extend(parts.into_iter().filter(|p| matches!(p, Part::Text { .. } | Part::Image { .. }))),
                    ReadPart::Result(_) => {
                        return Err(invalid("systemInstruction cannot hold a functionResponse", &field))
                    }
                }
            }
        }
    }

    let contents = match body.get("contents") {
        Some(Value::Array(contents)) => contents,
        _ => return Err(invalid("contents must be an array of Content objects", "contents")),
    };
    for (i, content) in contents.iter().enumerate() {
        let field = format!("contents[{i}]");
        let content = object(content, &field)?;
        let role = match opt_str(content, "role", &field)? {
            None | Some("user") | Some("function") | Some("tool") => Role::User,
            Some("model") | Some("assistant") => Role::Assistant,
            Some(other) => {
                return Err(invalid(
                    format!("{field}.role must be \"user\" or \"model\", not \"{other}\""),
                    &format!("{field}.role"),
                ))
            }
        };
        let mut results = Vec::new();
        let mut parts = Vec::new();
        for (j, part) in parts_of(content, &field)?.iter().enumerate() {
            match read_part(part, &format!("{field}.parts[{j}]"), SOURCE, &mut calls, i)? {
                ReadPart::Parts(read) => parts.extend(read),
                ReadPart::Result(result) => results.push(result),
            }
        }
        // Results first: they answer the previous model turn; any text is the next user turn.
        if !results.is_empty() {
            request.messages.push(Message { role: Role::Tool, parts: results });
        }
        if !parts.is_empty() {
            request.messages.push(Message { role, parts });
        }
    }

    read_tools(body, &mut request)?;
    if let Some(config) = opt_object(body, "generationConfig", "generationConfig")? {
        read_generation_config(config, &mut request)?;
    }
    Ok(request)
}

fn read_tools(body: &Map<String, Value>, request: &mut ChatRequest) -> CoreResult<()> {
    match body.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, tool) in tools.iter().enumerate() {
                let field = format!("tools[{i}]");
                let tool = object(tool, &field)?;
                // googleSearch, codeExecution, urlContext...: server-side tools, no IR form.
                let declarations = match tool.get("functionDeclarations") {
                    None | Some(Value::Null) => continue,
                    Some(Value::Array(list)) => list,
                    Some(_) => {
                        return Err(invalid(
                            format!("{field}.functionDeclarations must be an array"),
                            &format!("{field}.functionDeclarations"),
                        ))
                    }
                };
                for (j, declaration) in declarations.iter().enumerate() {
                    let field = format!("{field}.functionDeclarations[{j}]");
                    let declaration = object(declaration, &field)?;
                    let Some(name) = opt_str(declaration, "name", &field)? else {
                        return Err(invalid(format!("{field}.name is required"), &format!("{field}.name")));
                    };
                    let parameters = match (declaration.get("parametersJsonSchema"), declaration.get("parameters")) {
                        (Some(schema), _) if schema.is_object() => schema.clone(),
                        (_, Some(schema)) if schema.is_object() => to_json_schema(schema),
                        _ => json!({"type": "object", "properties": {}}),
                    };
                    request.tools.push(Tool {
                        name: name.to_owned(),
                        description: opt_str(declaration, "description", &field)?.map(str::to_owned),
                        parameters,
                        strict: None,
                        cache_control: None,
                    });
                }
            }
        }
        Some(_) => return Err(invalid("tools must be an array", "tools")),
    }

    let tool_config = opt_object(body, "toolConfig", "toolConfig")?;
    let field = "toolConfig.functionCallingConfig";
    if let Some(config) = tool_config.map(|c| opt_object(c, "functionCallingConfig", field)).transpose()?.flatten() {
        let allowed: Vec<&str> = match config.get("allowedFunctionNames") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(invalid(
                    format!("{field}.allowedFunctionNames must be an array of strings"),
                    &format!("{field}.allowedFunctionNames"),
                ))
            }
        };
        request.tool_choice = match opt_str(config, "mode", field)?.map(str::to_ascii_uppercase).as_deref() {
            None | Some("MODE_UNSPECIFIED") => None,
            Some("AUTO") | Some("VALIDATED") => Some(ToolChoice::Auto),
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") => match allowed.as_slice() {
                [only] => Some(ToolChoice::Tool((*only).to_owned())),
                _ => Some(ToolChoice::Required),
            },
            Some(other) => {
                return Err(invalid(
                    format!("{field}.mode must be AUTO, ANY, NONE or VALIDATED, not {other}"),
                    &format!("{field}.mode"),
                ))
            }
        };
    }
    Ok(())
}

fn read_generation_config(config: &Map<String, Value>, request: &mut ChatRequest) -> CoreResult<()> {
    let field = "generationConfig";
    request.max_tokens = opt_u64(config, "maxOutputTokens", field)?;
    request.temperature = opt_f64(config, "temperature", field)?;
    request.top_p = opt_f64(config, "topP", field)?;
    request.top_k = opt_u64(config, "topK", field)?;
    request.presence_penalty = opt_f64(config, "presencePenalty", field)?;
    request.frequency_penalty = opt_f64(config, "frequencyPenalty", field)?;
    request.seed = match config.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64().ok_or_else(|| invalid("generationConfig.seed must be an integer", "generationConfig.seed"))?,
        ),
    };
    request.stop = match config.get("stopSequences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            list.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(_) => {
            return Err(invalid(
                "generationConfig.stopSequences must be an array of strings",
                "generationConfig.stopSequences",
            ))
        }
    };

    let mime = opt_str(config, "responseMimeType", field)?;
    let schema = match (config.get("responseJsonSchema"), config.get("responseSchema")) {
        (Some(schema), _) if schema.is_object() => Some(schema.clone()),
        (_, Some(schema)) if schema.is_object() => Some(to_json_schema(schema)),
        _ => None,
    };
    request.response_format = match (mime, schema) {
        (Some("application/json"), Some(schema)) | (None, Some(schema)) => {
            Some(ResponseFormat::JsonSchema { name: "response".into(), schema, strict: None })
        }
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        _ => None,
    };

    if let Some(thinking) = opt_object(config, "thinkingConfig", "generationConfig.thinkingConfig")? {
        request.reasoning = read_thinking(thinking)?;
    }
    Ok(())
}

/// `thinkingConfig` -> IR reasoning: budget 0 is "off", -1 (dynamic) is "on, provider default";
/// `includeThoughts` asks to see the thoughts (the Responses `summary` notion).
fn read_thinking(thinking: &Map<String, Value>) -> CoreResult<Option<Reasoning>> {
    let field = "generationConfig.thinkingConfig";
    let budget = match thinking.get("thinkingBudget") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            invalid(format!("{field}.thinkingBudget must be an integer"), &format!("{field}.thinkingBudget"))
        })?),
    };
    let level = opt_str(thinking, "thinkingLevel", field)?
        .map(str::to_ascii_lowercase)
        .filter(|l| l != "thinking_level_unspecified");
    let include = thinking.get("includeThoughts").and_then(Value::as_bool);
    if budget.is_none() && level.is_none() && include.is_none() {
        return Ok(None);
    }
    let mut reasoning = Reasoning { summary: (include == Some(true)).then(|| "auto".to_owned()), ..Default::default() };
    match budget {
        Some(0) => reasoning.effort = Some("none".into()),
        Some(b) if b > 0 => reasoning.budget_tokens = Some(b.unsigned_abs()),
        _ => reasoning.effort = level,
    }
    Ok(Some(reasoning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::gemini::request_from_ir;
    use crate::dialect::gemini::test_support::fixture_json;
    use crate::dialect::Dialect;

    #[test]
    fn gemini_cli_request_reads_into_the_ir() {
        let ir = request_to_ir(&fixture_json("request_gemini_cli.json")).unwrap();
        assert_eq!(ir.model, None);
        assert_eq!(ir.system, vec![Part::text("You are a CLI agent."), Part::text("Be terse.")]);
        assert_eq!(ir.messages.len(), 4);
        assert_eq!(ir.messages[0].parts.len(), 3);
        assert!(
            matches!(&ir.messages[0].parts[2], Part::Image { source: crate::ir::ImageSource::Url(u), .. } if u == "https://example.com/cat.jpg")
        );
        assert_eq!(
            ir.messages[1].parts,
            vec![
                Part::Reasoning {
                    text: "Looking at the image first.".into(),
                    signature: Some("c2lnLXRob3VnaHQ=".into()),
                    encrypted: None,
                    origin: Some(Dialect::Gemini)
                },
                Part::ToolCall {
                    id: "call_0".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    signature: Some("c2lnLWNhbGw=".into())
                },
                Part::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Lyon"}"#.into(),
                    signature: None
                },
            ]
        );
        assert_eq!(ir.messages[2].role, Role::Tool);
        assert_eq!(
            ir.messages[2].parts,
            vec![
                Part::ToolResult {
                    call_id: "call_0".into(),
                    name: Some("get_weather".into()),
                    content: vec![Part::text("18C sunny")],
                    is_error: false
                },
                Part::ToolResult {
                    call_id: "call_1".into(),
                    name: Some("get_weather".into()),
                    content: vec![Part::text(r#"{"temp":21,"sky":"clear"}"#)],
                    is_error: false
                },
            ]
        );
        assert_eq!(ir.messages[3], Message { role: Role::User, parts: vec![Part::text("Thanks. Which is warmer?")] });
        assert_eq!(ir.tools.len(), 1);
        assert_eq!(
            ir.tools[0].parameters,
            json!({"type": "object", "properties": {"city": {"type": ["string", "null"]}}, "required": ["city"]})
        );
        assert_eq!(ir.tool_choice, Some(ToolChoice::Tool("get_weather".into())));
        assert_eq!((ir.max_tokens, ir.top_k, ir.seed), (Some(2048), Some(40), Some(7)));
        assert_eq!((ir.temperature, ir.top_p), (Some(0.2), Some(0.9)));
        assert_eq!((ir.presence_penalty, ir.frequency_penalty), (Some(0.5), Some(0.25)));
        assert_eq!(ir.stop, vec!["END".to_owned()]);
        assert_eq!(
            ir.reasoning,
            Some(Reasoning { effort: None, budget_tokens: Some(4096), summary: Some("auto".into()) })
        );
    }

    #[test]
    fn effort_none_and_json_object_and_string_system() {
        let ir = ChatRequest {
            messages: vec![Message { role: Role::User, parts: vec![Part::text("x")] }],
            response_format: Some(ResponseFormat::JsonObject),
            reasoning: Some(Reasoning { effort: Some("none".into()), ..Default::default() }),
            ..Default::default()
        };
        let body = request_from_ir(&ir, "m").unwrap();
        assert_eq!(
            body["generationConfig"],
            json!({"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 0}})
        );
        assert!(body.get("systemInstruction").is_none() && body.get("tools").is_none());
        let back = request_to_ir(&body).unwrap();
        assert_eq!(back.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(back.reasoning.and_then(|r| r.effort), Some("none".into()));

        let ir = request_to_ir(&json!({
            "systemInstruction": "plain",
            "contents": [{"parts": [{"text": "q"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
                                 "thinkingConfig": {"thinkingLevel": "HIGH"}},
            "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}
        }))
        .unwrap();
        assert_eq!(ir.system, vec![Part::text("plain")]);
        assert_eq!(ir.messages[0].role, Role::User);
        assert_eq!(
            ir.response_format,
            Some(ResponseFormat::JsonSchema {
                name: "response".into(),
                schema: json!({"type": "object"}),
                strict: None
            })
        );
        assert_eq!(ir.reasoning.and_then(|r| r.effort), Some("high".into()));
        assert_eq!(ir.tool_choice, Some(ToolChoice::None));
    }

    #[test]
    fn text_signature_and_ids_survive() {
        let body = json!({"contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [
                {"text": "Hello!", "thoughtSignature": "sig-text"},
                {"functionCall": {"id": "fc_9", "name": "f", "args": {}}}
            ]},
            {"role": "user", "parts": [{"functionResponse": {"id": "fc_9", "name": "f", "response": {"error": "denied"}}}]}
        ]});
        let ir = request_to_ir(&body).unwrap();
        assert!(
            matches!(&ir.messages[1].parts[0], Part::Reasoning { text, signature: Some(s), .. } if text.is_empty() && s == "sig-text")
        );
        assert!(
            matches!(&ir.messages[2].parts[0], Part::ToolResult { call_id, is_error: true, content, .. } if call_id == "fc_9" && content == &vec![Part::text("denied")])
        );
        let back = request_from_ir(&ir, "m").unwrap();
        assert_eq!(back["contents"][1]["parts"][0], json!({"text": "Hello!", "thoughtSignature": "sig-text"}));
        assert_eq!(back["contents"][1]["parts"][1], json!({"functionCall": {"name": "f", "args": {}}}));
    }

    #[test]
    fn wrong_shapes_are_invalid_params() {
        let param = |body: Value| match request_to_ir(&body) {
            Err(CoreError::InvalidRequest { param, .. }) => param,
            other => panic!("expected invalid request, got {other:?}"),
        };
        assert_eq!(param(json!({})), Some("contents".into()));
        assert_eq!(param(json!({"contents": [3]})), Some("contents[0]".into()));
        assert_eq!(param(json!({"contents": [{"role": "system", "parts": []}]})), Some("contents[0].role".into()));
        assert_eq!(param(json!({"contents": [{"parts": {}}]})), Some("contents[0].parts".into()));
        assert_eq!(param(json!({"contents": [{"parts": [{"text": 5}]}]})), Some("contents[0].parts[0].text".into()));
        assert_eq!(
            param(json!({"contents": [{"parts": [{"functionCall": {"name": "f", "args": "{}"}}]}]})),
            Some("contents[0].parts[0].functionCall.args".into())
        );
        assert_eq!(
            param(json!({"contents": [{"parts": [{"functionResponse": {"response": {}}}]}]})),
            Some("contents[0].parts[0].functionResponse.name".into())
        );
        assert_eq!(param(json!({"contents": [], "tools": {}})), Some("tools".into()));
        assert_eq!(
            param(json!({"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]})),
            Some("tools[0].functionDeclarations[0].name".into())
        );
        assert_eq!(
            param(json!({"contents": [], "generationConfig": {"maxOutputTokens": -1}})),
            Some("generationConfig.maxOutputTokens".into())
        );
        assert_eq!(
            param(json!({"contents": [], "generationConfig": {"stopSequences": "x"}})),
            Some("generationConfig.stopSequences".into())
        );
        assert_eq!(
            param(json!({"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}})),
            Some("toolConfig.functionCallingConfig.mode".into())
        );
        assert!(request_to_ir(&json!([1])).is_err());
        assert!(request_to_ir(&json!({"contents": [], "unknownField": 1})).is_ok());
    }

    #[test]
    fn arbitrary_json_in_any_field_never_panics() {
        let junk = [
            json!(null),
            json!(true),
            json!(-1),
            json!(1.5),
            json!("s"),
            json!([]),
            json!([null, 1]),
            json!({}),
            json!({"a": [{}]}),
        ];
        for value in &junk {
            for template in [
                json!({"contents": value}),
                json!({"contents": [{"parts": [value]}]}),
                json!({"contents": [{"role": value, "parts": [{"text": "x"}]}]}),
                json!({"contents": [{"parts": [{"functionCall": value}]}]}),
                json!({"contents": [{"parts": [{"functionResponse": value}]}]}),
                json!({"contents": [{"parts": [{"functionResponse": {"name": "f", "response": value, "parts": value}}]}]}),
                json!({"contents": [{"parts": [{"inlineData": value}, {"fileData": value}]}]}),
                json!({"contents": [], "systemInstruction": value}),
                json!({"contents": [], "tools": [value]}),
                json!({"contents": [], "tools": [{"functionDeclarations": [{"name": "f", "parameters": value}]}]}),
                json!({"contents": [], "toolConfig": {"functionCallingConfig": value}}),
                json!({"contents": [], "generationConfig": value}),
                json!({"contents": [], "generationConfig": {"thinkingConfig": value, "responseSchema": value}}),
            ] {
                if let Ok(ir) = request_to_ir(&template) {
                    request_from_ir(&ir, "m").unwrap();
                }
            }
        }
    }
}
