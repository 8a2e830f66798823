//! Gemini `GenerateContentResponse` <-> IR answer (non-stream).

use serde_json::{json, Map, Value};

use super::{
    call_prefix, finish_reason, model_parts, read_error, read_part, read_usage, stop_reason, write_usage, CallLedger,
    ModelPartsPolicy, ReadPart, Source,
};
use crate::dialect::{Dialect, EncodeOptions};
use crate::error::{CoreError, CoreResult};
use crate::ir::{ChatResponse, Part, StopReason};

/// The first candidate's parts, read into the IR (generated call ids use `calls`).
fn candidate_parts(candidate: &Value, calls: &mut CallLedger) -> CoreResult<Vec<Part>> {
    let parts = match candidate.get("content").and_then(|c| c.get("parts")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(CoreError::upstream("gemini candidates[0].content.parts is not an array")),
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let field = format!("candidates[0].content.parts[{j}]");
        if let ReadPart::Parts(read) = read_part(part, &field, Source::Upstream, calls, 0)? {
            out.extend(read);
        }
    }
    Ok(out)
}

/// Reads a Gemini `generateContent` answer; an `{"error": ...}` body is an upstream error.
pub fn response_to_ir(body: &Value) -> CoreResult<ChatResponse> {
    let Some(obj) = body.as_object() else {
        return Err(CoreError::upstream("gemini response is not a JSON object"));
    };
    if let Some(error) = obj.get("error").filter(|e| !e.is_null()) {
        let (message, status) = read_error(error);
        return Err(CoreError::upstream(match status {
            Some(status) => format!("gemini error {status}: {message}"),
            None => format!("gemini error: {message}"),
        }));
    }
    let id = obj.get("responseId").and_then(Value::as_str).unwrap_or_default().to_owned();
    let model = obj.get("modelVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let usage = obj.get("usageMetadata").and_then(read_usage);
    let candidate = match obj.get("candidates") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => list.first(),
        Some(_) => return Err(CoreError::upstream("gemini candidates is not an array")),
    };
    let Some(candidate) = candidate else {
        // The prompt itself was blocked: no candidates, a `promptFeedback.blockReason`.
        let blocked = obj.get("promptFeedback").and_then(|f| f.get("blockReason")).is_some();
        let stop_reason = if blocked { StopReason::ContentFilter } else { StopReason::EndTurn };
        return Ok(ChatResponse {
            id,
            model,
            created: None,
            parts: Vec::new(),
            stop_reason,
            stop_sequence: None,
            usage,
        });
    };
    let mut calls = CallLedger::new(call_prefix(&id));
    let parts = candidate_parts(candidate, &mut calls)?;
    let has_calls = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let reason = candidate.get("finishReason").and_then(Value::as_str).unwrap_or("STOP");
    Ok(ChatResponse {
        id,
        model,
        created: None,
        parts,
        stop_reason: stop_reason(reason, has_calls),
        stop_sequence: None,
        usage,
    })
}

/// Writes an IR answer as a Gemini `GenerateContentResponse`.
pub fn response_from_ir(response: &ChatResponse, opts: &EncodeOptions) -> Value {
    let from_gemini = opts.upstream == Some(Dialect::Gemini);
    let policy = ModelPartsPolicy {
        foreign_reasoning: true,
        unknown_origin_is_gemini: from_gemini,
        call_signatures: from_gemini,
        call_ids: true,
    };
    let parts = model_parts(&response.parts, policy);
    let mut candidate = Map::new();
    candidate.insert("content".into(), json!({"role": "model", "parts": parts}));
    candidate.insert("finishReason".into(), json!(finish_reason(&response.stop_reason)));
    candidate.insert("index".into(), json!(0));
    let mut out = Map::new();
    out.insert("candidates".into(), json!([candidate]));
    if let Some(usage) = &response.usage {
        out.insert("usageMetadata".into(), write_usage(usage));
    }
    out.insert("modelVersion".into(), json!(opts.model.as_deref().unwrap_or(&response.model)));
    out.insert("responseId".into(), json!(opts.response_id.as_deref().unwrap_or(&response.id)));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::gemini::test_support::fixture_json as fixture;
    use crate::usage::Usage;

    #[test]
    fn thinking_answer_with_parallel_calls_reads_into_the_ir() {
        let ir = response_to_ir(&fixture("response_tool_calls.json")).unwrap();
        assert_eq!(ir.id, "pXu2aKbVMe2Q1dkPqbXk8Q4");
        assert_eq!(ir.model, "gemini-2.5-flash");
        assert_eq!(ir.stop_reason, StopReason::ToolUse);
        assert_eq!(
            ir.parts,
            vec![
                Part::Reasoning {
                    text: "**Checking two cities**\n\nThe user wants weather for Paris and Tokyo.".into(),
                    signature: None,
                    encrypted: None,
                    origin: Some(Dialect::Gemini)
                },
                Part::text("Checking both cities."),
                Part::ToolCall {
                    id: "call_pXu2aKbVMe2Q1dkPqbXk8Q4_0".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris","unit":"celsius"}"#.into(),
                    signature: Some("CiQB0e2Kb7Xk1mZ9sg==".into())
                },
                Part::ToolCall {
                    id: "call_pXu2aKbVMe2Q1dkPqbXk8Q4_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Tokyo","unit":"celsius"}"#.into(),
                    signature: None
                },
            ]
        );
        assert_eq!(
            ir.usage,
            Some(Usage {
                input_tokens: 182,
                output_tokens: 176,
                cached_tokens: 0,
                cache_creation_tokens: 0,
                reasoning_tokens: 121
            })
        );
    }

    #[test]
    fn answer_round_trips_for_a_gemini_client() {
        let original = fixture("response_tool_calls.json");
        let ir = response_to_ir(&original).unwrap();
        let opts = EncodeOptions { upstream: Some(Dialect::Gemini), ..Default::default() };
        let back = response_from_ir(&ir, &opts);
        let parts = &back["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0], original["candidates"][0]["content"]["parts"][0]);
        assert_eq!(parts[1], original["candidates"][0]["content"]["parts"][1]);
        assert_eq!(
            parts[2],
            json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}, "id": "call_pXu2aKbVMe2Q1dkPqbXk8Q4_0"},
                   "thoughtSignature": "CiQB0e2Kb7Xk1mZ9sg=="})
        );
        assert_eq!(back["candidates"][0]["finishReason"], "STOP");
        for key in ["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "totalTokenCount"] {
            assert_eq!(back["usageMetadata"][key], original["usageMetadata"][key], "{key}");
        }
        assert_eq!(
            (back["modelVersion"].as_str(), back["responseId"].as_str()),
            (Some("gemini-2.5-flash"), Some("pXu2aKbVMe2Q1dkPqbXk8Q4"))
        );
        assert_eq!(response_to_ir(&back).unwrap(), ir);
    }

    #[test]
    fn foreign_answer_drops_signatures_and_maps_reasons() {
        let ir = ChatResponse {
            id: "msg_01".into(),
            model: "claude-sonnet-4-5".into(),
            created: None,
            parts: vec![
                Part::Reasoning {
                    text: "thinking...".into(),
                    signature: Some("EqQB".into()),
                    encrypted: None,
                    origin: Some(Dialect::Anthropic),
                },
                Part::Reasoning {
                    text: String::new(),
                    signature: None,
                    encrypted: Some("redacted".into()),
                    origin: Some(Dialect::Anthropic),
                },
                Part::text("Answer."),
            ],
            stop_reason: StopReason::MaxTokens,
            stop_sequence: None,
            usage: Some(Usage {
                input_tokens: 30,
                output_tokens: 12,
                cached_tokens: 20,
                cache_creation_tokens: 5,
                reasoning_tokens: 0,
            }),
        };
        let opts = EncodeOptions {
            upstream: Some(Dialect::Anthropic),
            model: Some("gemini-alias".into()),
            response_id: Some("resp_1".into()),
            ..Default::default()
        };
        assert_eq!(
            response_from_ir(&ir, &opts),
            json!({
                "candidates": [{
                    "content": {"role": "model", "parts": [{"text": "thinking...", "thought": true}, {"text": "Answer."}]},
                    "finishReason": "MAX_TOKENS",
                    "index": 0
                }],
                "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 12, "totalTokenCount": 42, "cachedContentTokenCount": 20},
                "modelVersion": "gemini-alias",
                "responseId": "resp_1"
            })
        );
    }

    #[test]
    fn text_signature_goes_back_on_the_text_part() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi there.", "thoughtSignature": "Q2lR"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7},
            "modelVersion": "gemini-3-pro-preview", "responseId": "r1"
        });
        let ir = response_to_ir(&body).unwrap();
        assert_eq!(ir.stop_reason, StopReason::EndTurn);
        let gemini = EncodeOptions { upstream: Some(Dialect::Gemini), ..Default::default() };
        assert_eq!(
            response_from_ir(&ir, &gemini)["candidates"][0]["content"]["parts"],
            json!([{"text": "Hi there.", "thoughtSignature": "Q2lR"}])
        );
        let other = EncodeOptions { upstream: Some(Dialect::OpenAi), ..Default::default() };
        // The IR part carries its origin, so the signature still goes to a Gemini client.
        assert_eq!(response_from_ir(&ir, &other)["candidates"][0]["content"]["parts"][0]["thoughtSignature"], "Q2lR");
    }

    #[test]
    fn blocked_prompt_and_errors() {
        let blocked = json!({
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            "modelVersion": "gemini-2.5-pro", "responseId": "b1"
        });
        let ir = response_to_ir(&blocked).unwrap();
        assert_eq!((ir.parts.len(), ir.stop_reason), (0, StopReason::ContentFilter));
        let safety = json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]});
        assert_eq!(response_to_ir(&safety).unwrap().stop_reason, StopReason::ContentFilter);
        let err =
            json!({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}});
        assert!(
            matches!(response_to_ir(&err), Err(CoreError::UpstreamProtocol { message }) if message.contains("RESOURCE_EXHAUSTED") && message.contains("exhausted"))
        );
        for junk in [
            json!(null),
            json!([]),
            json!({"candidates": 1}),
            json!({"candidates": [{"content": {"parts": "x"}}]}),
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}),
        ] {
            assert!(matches!(response_to_ir(&junk), Err(CoreError::UpstreamProtocol { .. })), "{junk}");
        }
    }
}
