//! The few request fields Python acts on, read without building a full document tree, and the
//! body's structure checked in the same pass (`request_shapes`).

use serde_json::Value;

use crate::dialect::Dialect;
use crate::error::{CoreError, CoreResult};
use crate::json_scan::{scan_object_with, JsonObject};
use crate::request_shapes::request_shape;

/// What the gateway needs to know about a client request to route and account for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// The model string as the client wrote it (`None` where the dialect puts it in the URL).
    pub model: Option<String>,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    pub max_tokens: Option<u64>,
    pub has_tools: bool,
    /// The body explicitly sets `temperature` to 0 (used by the response cache).
    pub temperature_zero: bool,
}

fn model_field(obj: &JsonObject<'_>) -> CoreResult<Option<String>> {
    match obj.get("model") {
        None => Ok(None),
        Some(m) => match serde_json::from_str::<Value>(m.raw) {
            Ok(Value::String(s)) => Ok(Some(s)),
            _ => Err(CoreError::invalid_param("'model' must be a string", "model")),
        },
    }
}

fn tools_present(obj: &JsonObject<'_>, key: &str) -> bool {
    obj.get(key).is_some_and(|m| m.raw.starts_with('[') && m.raw.trim_start_matches('[').trim_start() != "]")
}

fn temperature_zero(obj: &JsonObject<'_>) -> bool {
    obj.get("temperature").and_then(|m| serde_json::from_str::<f64>(m.raw).ok()).is_some_and(|t| t == 0.0)
}

/// Inspects a client body of the given dialect. Validates that it is a JSON object whose
/// routing-relevant fields have the right types and whose messages (contents, tools...) have
/// the dialect's structure; everything else is left for the upstream.
pub fn inspect_request(body: &[u8], dialect: Dialect) -> CoreResult<RequestInfo> {
    let obj = scan_object_with(body, request_shape(dialect))?;
    let stream = obj.parse_field::<bool>("stream")?.unwrap_or(false);
    let mut info = RequestInfo { model: model_field(&obj)?, stream, ..Default::default() };
    match dialect {
        Dialect::OpenAi => {
            let stream_options = obj.parse_field::<Option<serde_json::Map<String, Value>>>("stream_options")?;
            info.include_usage =
                stream_options.flatten().and_then(|o| o.get("include_usage").and_then(Value::as_bool)).unwrap_or(false);
            let max_completion = obj.parse_field::<u64>("max_completion_tokens")?;
            let max_tokens = obj.parse_field::<u64>("max_tokens")?;
            info.max_tokens = max_completion.or(max_tokens);
            info.has_tools = tools_present(&obj, "tools") || tools_present(&obj, "functions");
        }
        Dialect::Anthropic => {
            info.max_tokens = obj.parse_field::<u64>("max_tokens")?;
            info.has_tools = tools_present(&obj, "tools");
        }
        Dialect::Responses => {
            info.max_tokens = obj.parse_field::<u64>("max_output_tokens")?;
            info.has_tools = tools_present(&obj, "tools");
        }
        Dialect::Gemini => {
            info.has_tools = tools_present(&obj, "tools");
            info.max_tokens = obj
                .get("generationConfig")
                .and_then(|m| serde_json::from_str::<Value>(m.raw).ok())
                .and_then(|v| v.get("maxOutputTokens").and_then(Value::as_u64));
        }
    }
    if dialect != Dialect::Gemini {
        info.temperature_zero = temperature_zero(&obj);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_fields() {
        let body = br#"{"model":"openai/gpt-4o","messages":[],"stream":true,
            "stream_options":{"include_usage":true},"max_tokens":64,"tools":[{"type":"function","function":{"name":"f"}}],"temperature":0}"#;
        let info = inspect_request(body, Dialect::OpenAi).unwrap();
        assert_eq!(info.model.as_deref(), Some("openai/gpt-4o"));
        assert!(info.stream && info.include_usage && info.has_tools && info.temperature_zero);
        assert_eq!(info.max_tokens, Some(64));
    }

    #[test]
    fn stream_defaults_to_false_and_empty_tools_do_not_count() {
        let info = inspect_request(br#"{"model":"m","messages":[],"tools":[ ]}"#, Dialect::OpenAi).unwrap();
        assert!(!info.stream && !info.has_tools && !info.temperature_zero);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = inspect_request(br#"{"model":"m","messages":[],"stream":"yes"}"#, Dialect::OpenAi).unwrap_err();
        assert_eq!(err, CoreError::invalid_param("'stream' has the wrong type", "stream"));
        let err = inspect_request(br#"{"model":7,"messages":[]}"#, Dialect::OpenAi).unwrap_err();
        assert!(matches!(err, CoreError::InvalidRequest { param: Some(p), .. } if p == "model"));
        let err = inspect_request(br#"{"model":"m"}"#, Dialect::OpenAi).unwrap_err();
        assert!(err.message().contains("messages"));
    }

    #[test]
    fn stream_options_must_be_an_object_and_both_max_fields_are_checked() {
        let err = inspect_request(br#"{"model":"m","messages":[],"stream_options":"x"}"#, Dialect::OpenAi).unwrap_err();
        assert!(matches!(err, CoreError::InvalidRequest { param: Some(p), .. } if p == "stream_options"));
        let body = br#"{"model":"m","messages":[],"max_completion_tokens":5,"max_tokens":"many"}"#;
        assert!(inspect_request(body, Dialect::OpenAi).is_err());
        let ok = inspect_request(
            br#"{"model":"m","messages":[],"max_completion_tokens":5,"max_tokens":9}"#,
            Dialect::OpenAi,
        );
        assert_eq!(ok.unwrap().max_tokens, Some(5));
    }

    #[test]
    fn missing_model_is_reported_as_none() {
        assert_eq!(inspect_request(br#"{"messages":[]}"#, Dialect::OpenAi).unwrap().model, None);
    }
}
