//! Token usage as the gateway records it, read from each dialect's usage object.

use serde_json::Value;

/// Token counts of one call, in one convention for every dialect:
/// `input_tokens` is the whole prompt, cached and cache-creation tokens included (OpenAI and
/// Gemini count this way; Anthropic's three fields are added up); `output_tokens` is the whole
/// completion, reasoning included (Gemini's thoughts are added to its candidates count);
/// `cached_tokens`, `cache_creation_tokens` and `reasoning_tokens` are the subsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cache_creation_tokens: u64,
    pub reasoning_tokens: u64,
}

fn count(value: &Value, path: &[&str]) -> u64 {
    let mut cur = value;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return 0,
        }
    }
    cur.as_u64().unwrap_or(0)
}

impl Usage {
    /// Reads an OpenAI Chat Completions `usage` object.
    pub fn from_openai(usage: &Value) -> Option<Self> {
        if !usage.is_object() {
            return None;
        }
        Some(Usage {
            input_tokens: count(usage, &["prompt_tokens"]),
            output_tokens: count(usage, &["completion_tokens"]),
            cached_tokens: count(usage, &["prompt_tokens_details", "cached_tokens"]),
            cache_creation_tokens: count(usage, &["prompt_tokens_details", "cache_creation_tokens"]),
            reasoning_tokens: count(usage, &["completion_tokens_details", "reasoning_tokens"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_usage_with_details() {
        let v: Value = serde_json::from_str(
            r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
               "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}"#,
        )
        .unwrap();
        let u = Usage::from_openai(&v).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens), (10, 5, 4, 2));
        assert_eq!(Usage::from_openai(&Value::Null), None);
    }
}
