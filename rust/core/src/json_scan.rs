//! Top-level JSON object scanner that remembers where every member sits in the input.
//!
//! The gateway forwards client bodies byte-stable: it looks at a handful of top-level fields
//! and rewrites fewer still, and every other byte must reach the upstream untouched. This
//! scanner validates the whole document (serde_json checks each value) and returns the byte
//! spans of each member so that `rewrite` can splice without re-serialising anything.

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::{CoreError, CoreResult};

/// One `"key": value` member of the top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key, unescaped.
    pub key: std::borrow::Cow<'a, str>,
    /// Offset of the key's opening quote.
    pub start: usize,
    /// Span of the value's text.
    pub value_start: usize,
    pub value_end: usize,
    /// The value's raw JSON text.
    pub raw: &'a str,
}

/// A scanned top-level object.
#[derive(Debug, Clone)]
pub struct JsonObject<'a> {
    pub text: &'a str,
    pub members: Vec<Member<'a>>,
    /// Offset of the closing brace.
    pub close: usize,
}

impl<'a> JsonObject<'a> {
    pub fn get(&self, key: &str) -> Option<&Member<'a>> {
        self.members.iter().find(|m| m.key == key)
    }

    /// Parses one member's value into `T`, naming the field in the error.
    pub fn parse_field<T: serde::de::DeserializeOwned>(&self, key: &str) -> CoreResult<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(member) if member.raw == "null" => Ok(None),
            Some(member) => serde_json::from_str(member.raw)
                .map(Some)
                .map_err(|_| CoreError::invalid_param(format!("'{key}' has the wrong type"), key)),
        }
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b) = bytes.get(pos) {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// Length of the value that starts at `text[start..]`, validated by serde_json.
fn value_len(text: &str, start: usize) -> CoreResult<usize> {
    let rest = text.get(start..).ok_or_else(|| CoreError::invalid("truncated JSON"))?;
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Ok(stream.byte_offset()),
        Some(Err(e)) => Err(CoreError::invalid(format!("invalid JSON: {e}"))),
        None => Err(CoreError::invalid("invalid JSON: value expected")),
    }
}

/// Scans `body`, which must be one JSON object (surrounding whitespace allowed).
/// Duplicate top-level keys are rejected: two readers could disagree on which one counts.
pub fn scan_object(body: &[u8]) -> CoreResult<JsonObject<'_>> {
    let text = std::str::from_utf8(body)
        .map_err(|e| CoreError::invalid(format!("request body is not valid UTF-8 (byte {})", e.valid_up_to())))?;
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return Err(CoreError::invalid(if pos >= bytes.len() {
            "request body is empty; a JSON object is required"
        } else {
            "request body must be a JSON object"
        }));
    }
    pos = skip_ws(bytes, pos + 1);
    let mut members: Vec<Member<'_>> = Vec::new();
    if bytes.get(pos) == Some(&b'}') {
        return finish(text, members, pos);
    }
    loop {
        if bytes.get(pos) != Some(&b'"') {
            return Err(CoreError::invalid("invalid JSON: object key expected"));
        }
        let start = pos;
        let key_len = value_len(text, pos)?;
        let key_raw = text.get(pos..pos + key_len).unwrap_or_default();
        let key: std::borrow::Cow<'_, str> = match key_raw.get(1..key_raw.len().saturating_sub(1)) {
            Some(inner) if !inner.contains('\\') => inner.into(),
            _ => serde_json::from_str::<String>(key_raw)
                .map_err(|e| CoreError::invalid(format!("invalid JSON: {e}")))?
                .into(),
        };
        pos = skip_ws(bytes, pos + key_len);
        if bytes.get(pos) != Some(&b':') {
            return Err(CoreError::invalid("invalid JSON: ':' expected after object key"));
        }
        let value_start = skip_ws(bytes, pos + 1);
        let len = value_len(text, value_start)?;
        let value_end = value_start + len;
        if members.iter().any(|m| m.key == key) {
            return Err(CoreError::invalid_param(format!("duplicate field '{key}'"), &key));
        }
        let raw = text.get(value_start..value_end).unwrap_or_default();
        members.push(Member { key, start, value_start, value_end, raw });
        pos = skip_ws(bytes, value_end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b'}') => return finish(text, members, pos),
            _ => return Err(CoreError::invalid("invalid JSON: ',' or '}' expected")),
        }
    }
}

fn finish<'a>(text: &'a str, members: Vec<Member<'a>>, close: usize) -> CoreResult<JsonObject<'a>> {
    if skip_ws(text.as_bytes(), close + 1) != text.len() {
        return Err(CoreError::invalid("invalid JSON: trailing characters after the object"));
    }
    Ok(JsonObject { text, members, close })
}

/// Parses a raw JSON value as a borrowed `RawValue` (helper for nested inspection).
pub fn raw(text: &str) -> CoreResult<&RawValue> {
    serde_json::from_str(text).map_err(|e| CoreError::invalid(format!("invalid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_members_with_spans() {
        let body = br#" { "model" : "gpt", "x":{"a":[1,2]} ,"n":null } "#;
        let obj = scan_object(body).unwrap();
        let keys: Vec<&str> = obj.members.iter().map(|m| m.key.as_ref()).collect();
        assert_eq!(keys, ["model", "x", "n"]);
        assert_eq!(obj.get("x").unwrap().raw, r#"{"a":[1,2]}"#);
        assert_eq!(&obj.text[obj.get("model").unwrap().start..][..7], "\"model\"");
    }

    #[test]
    fn unescapes_keys() {
        let obj = scan_object(br#"{"mo\u0064el":1}"#).unwrap();
        assert_eq!(obj.members[0].key, "model");
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [&b""[..], b"[]", b"{", b"{\"a\"}", b"{\"a\":1,}", b"{\"a\":1} x", b"{\"a\":1,\"a\":2}", b"\xff"] {
            assert!(scan_object(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn null_fields_parse_as_absent() {
        let obj = scan_object(br#"{"stream":null,"max_tokens": null,"n":"x"}"#).unwrap();
        assert_eq!(obj.parse_field::<bool>("stream"), Ok(None));
        assert_eq!(obj.parse_field::<u64>("max_tokens"), Ok(None));
        assert!(obj.parse_field::<u64>("n").is_err());
    }

    #[test]
    fn empty_object_is_fine() {
        assert!(scan_object(b" {} ").unwrap().members.is_empty());
    }
}
