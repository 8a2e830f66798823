//! Response sanitisation for OpenAI clients: strict SDKs and typed clients choke on
//! provider-specific extras (`x_groq`, `usage_breakdown`, ...), so only the fields of the
//! OpenAI schema are kept. Objects that are already clean are reported as such, so the caller
//! can forward the upstream bytes unchanged.

use serde_json::{Map, Value};

/// `obfuscation` is OpenAI's own stream padding field: official clients expect and ignore it.
const TOP_LEVEL: &[&str] =
    &["id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "obfuscation"];
const CHOICE: &[&str] = &["index", "message", "delta", "finish_reason", "logprobs"];
const MESSAGE: &[&str] =
    &["role", "content", "refusal", "tool_calls", "function_call", "annotations", "audio", "reasoning_content"];
const USAGE: &[&str] =
    &["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details"];

fn retain(map: &mut Map<String, Value>, allowed: &[&str]) -> bool {
    let before = map.len();
    map.retain(|k, _| allowed.contains(&k.as_str()));
    map.len() != before
}

/// Strips non-standard fields from a chat completion or chunk in place.
/// Returns true when anything was removed.
pub fn sanitize_chat_object(value: &mut Value) -> bool {
    let Some(top) = value.as_object_mut() else {
        return false;
    };
    let mut changed = retain(top, TOP_LEVEL);
    if let Some(Value::Object(usage)) = top.get_mut("usage") {
        changed |= retain(usage, USAGE);
    }
    if let Some(Value::Array(choices)) = top.get_mut("choices") {
        for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
            changed |= retain(choice, CHOICE);
            for key in ["message", "delta"] {
                if let Some(Value::Object(message)) = choice.get_mut(key) {
                    changed |= retain(message, MESSAGE);
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_provider_extras_at_every_level() {
        let mut v: Value = serde_json::from_str(
            r#"{"id":"x","x_groq":{"id":"q"},"choices":[{"index":0,"delta":{"content":"a","x":1},"finish_reason":null,"extra":2}],
               "usage":{"prompt_tokens":1,"queue_time":0.1}}"#,
        )
        .unwrap();
        assert!(sanitize_chat_object(&mut v));
        assert_eq!(
            v,
            serde_json::json!({"id":"x","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"usage":{"prompt_tokens":1}})
        );
    }

    #[test]
    fn openai_obfuscation_padding_is_standard() {
        let mut v: Value = serde_json::from_str(r#"{"id":"x","obfuscation":"abc","choices":[]}"#).unwrap();
        assert!(!sanitize_chat_object(&mut v));
    }

    #[test]
    fn clean_objects_are_left_alone() {
        let mut v: Value =
            serde_json::from_str(r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant"}}]}"#).unwrap();
        assert!(!sanitize_chat_object(&mut v));
    }
}
