//! Response sanitisation for OpenAI clients: strict SDKs and typed clients choke on
//! provider-specific extras (`x_groq`, `usage_breakdown`, ...), so only the fields of the
//! OpenAI schema are kept. Objects that are already clean are reported as such, so the caller
//! can forward the upstream bytes unchanged.

use serde_json::{Map, Value};

use crate::usage::Usage;

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

/// What a chunk that needs no sanitising says, read without building a JSON tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanChunk {
    /// Some choice carries a non-null `finish_reason`.
    pub finished: bool,
}

/// The fast path of the OpenAI stream relay: `Some` when `data` is a chunk whose every key, at
/// every level `sanitize_chat_object` checks, is already allowed (so no `error` either), and which
/// carries no `usage` (that takes the full path). `None` means "look closer", never "invalid".
pub fn clean_chunk(data: &str) -> Option<CleanChunk> {
    if !data.starts_with('{') {
        return None; // serde would also read a struct from an array
    }
    let chunk: views::Chunk<'_> = serde_json::from_str(data).ok()?;
    if chunk.usage.is_some() {
        return None;
    }
    let finished = chunk.choices.iter().flatten().any(|c| c.finish_reason.is_some());
    Some(CleanChunk { finished })
}

/// The fast path of a non-stream OpenAI answer: `Some(usage)` when `data` is a completion whose
/// every key, at every level `sanitize_chat_object` checks (usage included), is already allowed,
/// so its bytes can be forwarded as they are. `None` means "look closer", never "invalid".
pub fn clean_completion(data: &str) -> Option<Option<Usage>> {
    if !data.trim_start().starts_with('{') {
        return None; // serde would also read a struct from an array
    }
    let completion: views::Chunk<'_> = serde_json::from_str(data).ok()?;
    let Some(usage) = completion.usage else {
        return Some(None);
    };
    serde_json::from_str::<views::UsageFields<'_>>(usage.get()).ok()?;
    let usage: Value = serde_json::from_str(usage.get()).ok()?;
    Some(Usage::from_openai(&usage))
}

/// Borrowed views with exactly the allowed keys: an extra key (or a duplicate) fails the parse.
/// Values stay raw (validated, not built); `null` reads as absent.
mod views {
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // fields exist to be recognised (and validated), not read
    pub(super) struct Chunk<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
        #[serde(borrow)]
        object: Option<&'a RawValue>,
        #[serde(borrow)]
        created: Option<&'a RawValue>,
        #[serde(borrow)]
        model: Option<&'a RawValue>,
        #[serde(borrow)]
        pub(super) choices: Option<Vec<Choice<'a>>>,
        #[serde(borrow)]
        pub(super) usage: Option<&'a RawValue>,
        #[serde(borrow)]
        system_fingerprint: Option<&'a RawValue>,
        #[serde(borrow)]
        service_tier: Option<&'a RawValue>,
        #[serde(borrow)]
        obfuscation: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub(super) struct Choice<'a> {
        #[serde(borrow)]
        index: Option<&'a RawValue>,
        #[serde(borrow)]
        message: Option<Message<'a>>,
        #[serde(borrow)]
        delta: Option<Message<'a>>,
        #[serde(borrow)]
        pub(super) finish_reason: Option<&'a RawValue>,
        #[serde(borrow)]
        logprobs: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub(super) struct UsageFields<'a> {
        #[serde(borrow)]
        prompt_tokens: Option<&'a RawValue>,
        #[serde(borrow)]
        completion_tokens: Option<&'a RawValue>,
        #[serde(borrow)]
        total_tokens: Option<&'a RawValue>,
        #[serde(borrow)]
        prompt_tokens_details: Option<&'a RawValue>,
        #[serde(borrow)]
        completion_tokens_details: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub(super) struct Message<'a> {
        #[serde(borrow)]
        role: Option<&'a RawValue>,
        #[serde(borrow)]
        content: Option<&'a RawValue>,
        #[serde(borrow)]
        refusal: Option<&'a RawValue>,
        #[serde(borrow)]
        tool_calls: Option<&'a RawValue>,
        #[serde(borrow)]
        function_call: Option<&'a RawValue>,
        #[serde(borrow)]
        annotations: Option<&'a RawValue>,
        #[serde(borrow)]
        audio: Option<&'a RawValue>,
        #[serde(borrow)]
        reasoning_content: Option<&'a RawValue>,
    }
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

    #[test]
    fn clean_completion_agrees_with_the_full_sanitiser() {
        let cases = [
            r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}}}"#,
            r#"{"id":"c","choices":[],"usage":null}"#,
            r#" {"id":"c","choices":[]} "#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"queue_time":0.1}}"#,
            r#"{"id":"c","x_groq":{},"choices":[]}"#,
            r#"{"id":"c","choices":[{"index":0,"message":{"content":"a","x":1}}]}"#,
            r#"{"id":"c","choices":[],"usage":7}"#,
            r#"{"id":"c","id":"d","choices":[]}"#,
            r#"[{"id":"c"}]"#,
        ];
        for data in cases {
            let mut value: Value = serde_json::from_str(data).unwrap();
            let changed = sanitize_chat_object(&mut value);
            let usage = value.get("usage").and_then(Usage::from_openai);
            match clean_completion(data) {
                Some(fast) => {
                    assert!(!changed, "{data}");
                    assert_eq!(fast, usage, "{data}");
                }
                None => assert!(
                    changed
                        || data.contains(r#""id":"c","id""#)
                        || data.starts_with('[')
                        || data.contains("\"usage\":7"),
                    "{data}"
                ),
            }
        }
        assert_eq!(clean_completion(r#"{"choices":[]}"#), Some(None));
        assert_eq!(clean_completion(r#"{"choices":[]"#), None);
    }

    #[test]
    fn clean_chunk_agrees_with_the_full_sanitiser() {
        let cases = [
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"obfuscation":"xy"}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a","x":1},"finish_reason":null}]}"#,
            r#"{"id":"c","x_groq":{"id":"q"},"choices":[]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"extra":2}]}"#,
            r#"{"id":"c","error":null,"choices":[]}"#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"queue_time":0.1}}"#,
            r#"{"id":"c","choices":[],"usage":null}"#,
            r#"{"id":"c","id":"d","choices":[]}"#,
            r#"{"choices":null}"#,
            r#"[1,2]"#,
            r#"["c","o",1,"m",[{"index":0}],null,null,null,null]"#,
        ];
        for data in cases {
            let mut value: Value = serde_json::from_str(data).unwrap();
            let changed = sanitize_chat_object(&mut value);
            match clean_chunk(data) {
                // Fast path: nothing to strip, and the finish flag matches the tree's.
                Some(clean) => {
                    assert!(!changed, "{data}");
                    let finished = value["choices"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null())));
                    assert_eq!(clean.finished, finished, "{data}");
                }
                // Full path whenever something would be stripped (or usage/error/duplicates).
                None => assert!(
                    changed
                        || value.get("usage").is_some_and(|u| !u.is_null())
                        || data.contains(r#""id":"c","id""#)
                        || !value.is_object(),
                    "{data}"
                ),
            }
        }
    }
}
