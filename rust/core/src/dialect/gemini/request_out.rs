//! IR request -> Gemini `GenerateContentRequest` (what a Gemini upstream receives).

use serde_json::{json, Map, Value};

use super::schema::to_gemini_schema;
use super::{image_part, model_parts, ModelPartsPolicy};
use crate::error::CoreResult;
use crate::ir::{budget_for_effort, ChatRequest, Part, ResponseFormat, Role, Tool, ToolChoice};

/// Every harm category Gemini filters on; the gateway leaves filtering to the client.
const HARM_CATEGORIES: [&str; 5] = [
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
];

/// Builds a Gemini `GenerateContentRequest` body (the model goes in the URL, not here).
pub fn request_from_ir(request: &ChatRequest, _model: &str) -> CoreResult<Value> {
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents(request)));

    let system: Vec<Value> = request
        .system
        .iter()
        .filter_map(|part| match part {
            Part::Text { text, .. } => Some(json!({"text": text})),
            Part::Image { source, .. } => Some(image_part(source)),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }

    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request.tools.iter().map(declaration).collect();
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        if let Some(choice) = &request.tool_choice {
            let config = match choice {
                ToolChoice::Auto => json!({"mode": "AUTO"}),
                ToolChoice::None => json!({"mode": "NONE"}),
                ToolChoice::Required => json!({"mode": "ANY"}),
                ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
            };
            body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
        }
    }

    let config = generation_config(request);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    let safety: Vec<Value> =
        HARM_CATEGORIES.iter().map(|category| json!({"category": category, "threshold": "OFF"})).collect();
    body.insert("safetySettings".into(), Value::Array(safety));
    Ok(Value::Object(body))
}

fn declaration(tool: &Tool) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        out.insert("description".into(), json!(description));
    }
    let parameters = to_gemini_schema(&tool.parameters);
    // Gemini rejects an OBJECT with no properties: a function without arguments has none.
    let empty_object = parameters.get("type").and_then(Value::as_str) == Some("OBJECT")
        && parameters.get("properties").is_none()
        && parameters.get("anyOf").is_none();
    if !empty_object && parameters.as_object().is_some_and(|p| !p.is_empty()) {
        out.insert("parameters".into(), parameters);
    }
    Value::Object(out)
}

/// User-side parts in order; tool results become `functionResponse` parts (plus any images
/// they returned, as sibling parts: older models take no media inside a function response).
fn user_parts(parts: &[Part], call_names: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::ToolResult { call_id, name, content, is_error } => {
                let name = name
                    .clone()
                    .or_else(|| call_names.iter().rev().find(|(id, _)| id == call_id).map(|(_, n)| (*n).to_owned()))
                    .unwrap_or_else(|| call_id.clone());
                let text: String = content
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => object,
                    _ if *is_error => json!({"error": text}),
                    _ => json!({"result": text}),
                };
                out.push(json!({"functionResponse": {"name": name, "response": response}}));
                out.extend(content.iter().filter_map(|p| match p {
                    Part::Image { source, .. } => Some(image_part(source)),
                    _ => None,
                }));
            }
            Part::Text { text, .. } => out.push(json!({"text": text})),
            Part::Image { source, .. } => out.push(image_part(source)),
            _ => {}
        }
    }
    out
}

fn contents(request: &ChatRequest) -> Vec<Value> {
    let call_names: Vec<(&str, &str)> = request
        .messages
        .iter()
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| match p {
            Part::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect();
    let policy = ModelPartsPolicy {
        foreign_reasoning: false,
        unknown_origin_is_gemini: false,
        call_signatures: true,
        call_ids: false,
    };
    let mut out: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, parts) = match message.role {
            Role::User | Role::Tool => ("user", user_parts(&message.parts, &call_names)),
            Role::Assistant => ("model", model_parts(&message.parts, policy)),
        };
        if parts.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => out.push((role, parts)),
        }
    }
    out.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect()
}

fn generation_config(request: &ChatRequest) -> Map<String, Value> {
    let mut config = Map::new();
    let mut put = |key: &str, value: Value| {
        config.insert(key.into(), value);
    };
    if let Some(v) = request.max_tokens {
        put("maxOutputTokens", json!(v));
    }
    if let Some(v) = request.temperature {
        put("temperature", json!(v));
    }
    if let Some(v) = request.top_p {
        put("topP", json!(v));
    }
    if let Some(v) = request.top_k {
        put("topK", json!(v));
    }
    if !request.stop.is_empty() {
        put("stopSequences", json!(request.stop));
    }
    if let Some(v) = request.seed {
        put("seed", json!(v));
    }
    if let Some(v) = request.presence_penalty {
        put("presencePenalty", json!(v));
    }
    if let Some(v) = request.frequency_penalty {
        put("frequencyPenalty", json!(v));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => put("responseMimeType", json!("application/json")),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            put("responseMimeType", json!("application/json"));
            put("responseSchema", to_gemini_schema(schema));
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(reasoning) = &request.reasoning {
        let off = reasoning.effort.as_deref() == Some("none") || reasoning.budget_tokens == Some(0);
        let thinking = if off {
            json!({"thinkingBudget": 0})
        } else {
            let budget = reasoning.budget_tokens.or_else(|| reasoning.effort.as_deref().and_then(budget_for_effort));
            match budget {
                Some(budget) => json!({"thinkingBudget": budget, "includeThoughts": true}),
                None => json!({"includeThoughts": true}),
            }
        };
        put("thinkingConfig", thinking);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::gemini::request_to_ir;
    use crate::dialect::gemini::test_support::fixture_json;
    use crate::dialect::Dialect;
    use crate::ir::{Message, Reasoning};

    #[test]
    fn request_round_trips_through_the_ir() {
        let original = fixture_json("request_gemini_cli.json");
        let ir = request_to_ir(&original).unwrap();
        let body = request_from_ir(&ir, "gemini-2.5-pro").unwrap();
        assert!(body.get("model").is_none());
        assert_eq!(body["systemInstruction"], original["systemInstruction"]);
        assert_eq!(body["contents"][0], original["contents"][0]);
        assert_eq!(body["contents"][1], original["contents"][1]);
        // Results and the follow-up text share one user content again.
        assert_eq!(
            body["contents"][2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "18C sunny"}}},
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21, "sky": "clear"}}},
                {"text": "Thanks. Which is warmer?"}
            ]})
        );
        assert_eq!(body["contents"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            body["tools"][0]["functionDeclarations"][0]["parameters"],
            json!({"type": "OBJECT", "required": ["city"], "properties": {"city": {"type": "STRING", "nullable": true}}})
        );
        assert_eq!(body["toolConfig"], original["toolConfig"]);
        assert_eq!(
            body["generationConfig"],
            json!({
                "maxOutputTokens": 2048, "temperature": 0.2, "topP": 0.9, "topK": 40,
                "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": 0.25,
                "thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": true}
            })
        );
        assert_eq!(body["safetySettings"].as_array().map(Vec::len), Some(5));
        assert!(body["safetySettings"].as_array().unwrap().iter().all(|s| s["threshold"] == "OFF"));
        assert_eq!(request_to_ir(&body).unwrap(), ir);
    }

    #[test]
    fn foreign_ir_becomes_a_valid_gemini_request() {
        let ir = ChatRequest {
            model: Some("gpt-4o".into()),
            system: vec![Part::text("sys one"), Part::text("sys two")],
            messages: vec![
                Message { role: Role::User, parts: vec![Part::text("hi")] },
                Message {
                    role: Role::User,
                    parts: vec![Part::Image {
                        source: crate::ir::ImageSource::Url("data:image/jpeg;base64,/9j/".into()),
                        detail: Some("high".into()),
                    }],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Reasoning {
                            text: "claude thinking".into(),
                            signature: Some("anthropic-sig".into()),
                            encrypted: None,
                            origin: Some(Dialect::Anthropic),
                        },
                        Part::text("Let me check."),
                        Part::ToolCall {
                            id: "toolu_1".into(),
                            name: "lookup".into(),
                            arguments: "{\"q\":1}".into(),
                            signature: None,
                        },
                        Part::ToolCall {
                            id: "toolu_2".into(),
                            name: "broken".into(),
                            arguments: "not json".into(),
                            signature: None,
                        },
                    ],
                },
                Message {
                    role: Role::Tool,
                    parts: vec![
                        Part::ToolResult {
                            call_id: "toolu_1".into(),
                            name: None,
                            content: vec![Part::text("plain text")],
                            is_error: false,
                        },
                        Part::ToolResult {
                            call_id: "toolu_2".into(),
                            name: None,
                            content: vec![Part::text("boom")],
                            is_error: true,
                        },
                    ],
                },
                Message { role: Role::User, parts: vec![Part::text("and?")] },
            ],
            tools: vec![Tool {
                name: "ping".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
                strict: Some(true),
                cache_control: None,
            }],
            tool_choice: Some(ToolChoice::Required),
            response_format: Some(ResponseFormat::JsonSchema {
                name: "x".into(),
                schema: json!({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false}),
                strict: Some(true),
            }),
            reasoning: Some(Reasoning { effort: Some("high".into()), ..Default::default() }),
            ..Default::default()
        };
        let body = request_from_ir(&ir, "gemini-2.5-flash").unwrap();
        assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "sys one"}, {"text": "sys two"}]}));
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}}]},
                {"role": "model", "parts": [
                    {"text": "Let me check."},
                    {"functionCall": {"name": "lookup", "args": {"q": 1}}},
                    {"functionCall": {"name": "broken", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "lookup", "response": {"result": "plain text"}}},
                    {"functionResponse": {"name": "broken", "response": {"error": "boom"}}},
                    {"text": "and?"}
                ]}
            ])
        );
        assert_eq!(body["tools"], json!([{"functionDeclarations": [{"name": "ping"}]}]));
        assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
        assert_eq!(
            body["generationConfig"],
            json!({
                "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
                "thinkingConfig": {"thinkingBudget": 32768, "includeThoughts": true}
            })
        );
    }
}
