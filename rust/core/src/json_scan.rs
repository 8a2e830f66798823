//! Top-level JSON object scanner that remembers where every member sits in the input.
//!
//! The gateway forwards client bodies byte-stable: it looks at a handful of top-level fields
//! and rewrites fewer still, and every other byte must reach the upstream untouched. This
//! scanner validates the whole document (serde_json checks each value) and returns the byte
//! spans of each member so that `rewrite` can splice without re-serialising anything. Its
//! object and array walkers also carry the structure checks of `shape` through nested values.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::error::{CoreError, CoreResult};
use crate::shape::{check_object, Object, Path};

/// One `"key": value` member of the top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key, unescaped.
    pub key: Cow<'a, str>,
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

pub(crate) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b) = bytes.get(pos) {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// Strings this long or shorter are measured here; longer ones by serde_json, whose skipping
/// is faster over long text but costs a reader set-up per call.
const SHORT_STRING: usize = 64;

/// End of the short, escape-free JSON string whose opening quote is at `start` (object keys,
/// roles, types, ids: most of the strings the structure checks step over). `None` for a longer
/// string or one holding a backslash or a control character: serde_json measures those (and
/// words their errors).
fn short_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let body = bytes.get(start + 1..)?;
    let body = body.get(..SHORT_STRING).unwrap_or(body);
    match body.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        Some(len) if body.get(len) == Some(&b'"') => Some(start + 1 + len + 1),
        _ => None,
    }
}

/// Length of the value that starts at `text[start..]`, validated by serde_json.
pub(crate) fn value_len(text: &str, start: usize) -> CoreResult<usize> {
    if let Some(end) = short_string_end(text.as_bytes(), start) {
        return Ok(end - start);
    }
    let rest = text.get(start..).ok_or_else(|| CoreError::invalid("truncated JSON"))?;
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Ok(stream.byte_offset()),
        Some(Err(e)) => Err(CoreError::invalid(format!("invalid JSON: {e}"))),
        None => Err(CoreError::invalid("invalid JSON: value expected")),
    }
}

/// The unescaped text of the JSON string literal `raw` (quotes included).
pub(crate) fn string_text(raw: &str) -> CoreResult<Cow<'_, str>> {
    match raw.get(1..raw.len().saturating_sub(1)) {
        Some(inner) if raw.len() >= 2 && !inner.contains('\\') => Ok(inner.into()),
        _ => serde_json::from_str::<String>(raw)
            .map(Cow::Owned)
            .map_err(|e| CoreError::invalid(format!("invalid JSON: {e}"))),
    }
}

/// Walks the object whose `{` is at `open`. `member(key, key_start, value_start)` checks or
/// skips each value and returns where it ends. Returns the offset of the closing `}`.
pub(crate) fn walk_object<'a>(
    text: &'a str,
    open: usize,
    mut member: impl FnMut(Cow<'a, str>, usize, usize) -> CoreResult<usize>,
) -> CoreResult<usize> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, open + 1);
    if bytes.get(pos) == Some(&b'}') {
        return Ok(pos);
    }
    loop {
        if bytes.get(pos) != Some(&b'"') {
            return Err(CoreError::invalid("invalid JSON: object key expected"));
        }
        let start = pos;
        let (key, key_end) = match short_string_end(bytes, pos) {
            Some(end) => (Cow::Borrowed(text.get(pos + 1..end - 1).unwrap_or_default()), end),
            None => {
                let end = pos + value_len(text, pos)?;
                (string_text(text.get(pos..end).unwrap_or_default())?, end)
            }
        };
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return Err(CoreError::invalid("invalid JSON: ':' expected after object key"));
        }
        let value_end = member(key, start, skip_ws(bytes, pos + 1))?;
        pos = skip_ws(bytes, value_end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b'}') => return Ok(pos),
            _ => return Err(CoreError::invalid("invalid JSON: ',' or '}' expected")),
        }
    }
}

/// Walks the array whose `[` is at `open`. `element(index, start)` checks or skips each
/// element and returns where it ends. Returns the offset of the closing `]`.
pub(crate) fn walk_array(
    text: &str,
    open: usize,
    mut element: impl FnMut(usize, usize) -> CoreResult<usize>,
) -> CoreResult<usize> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, open + 1);
    if bytes.get(pos) == Some(&b']') {
        return Ok(pos);
    }
    let mut index = 0;
    loop {
        pos = skip_ws(bytes, element(index, pos)?);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b']') => return Ok(pos),
            _ => return Err(CoreError::invalid("invalid JSON: ',' or ']' expected")),
        }
        index += 1;
    }
}

/// Scans `body`, which must be one JSON object (surrounding whitespace allowed).
/// Duplicate top-level keys are rejected: two readers could disagree on which one counts.
pub fn scan_object(body: &[u8]) -> CoreResult<JsonObject<'_>> {
    scan_object_with(body, &Object::OPEN)
}

/// `scan_object` that also checks the members `shape` knows, in the same pass.
pub fn scan_object_with<'a>(body: &'a [u8], shape: &Object) -> CoreResult<JsonObject<'a>> {
    let text = std::str::from_utf8(body)
        .map_err(|e| CoreError::invalid(format!("request body is not valid UTF-8 (byte {})", e.valid_up_to())))?;
    let bytes = text.as_bytes();
    let pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return Err(CoreError::invalid(if pos >= bytes.len() {
            "request body is empty; a JSON object is required"
        } else {
            "request body must be a JSON object"
        }));
    }
    let mut members: Vec<Member<'_>> = Vec::new();
    let close = check_object(text, pos, shape, &Path::Root, |key, start, value_start, value_end| {
        if members.iter().any(|m| m.key == key) {
            return Err(CoreError::invalid_param(format!("duplicate field '{key}'"), &key));
        }
        let raw = text.get(value_start..value_end).unwrap_or_default();
        members.push(Member { key, start, value_start, value_end, raw });
        Ok(())
    })?;
    finish(text, members, close)
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

    /// serde_json's verdict on the string at the start of `text`: where it ends, or None.
    fn serde_string_end(text: &str) -> Option<usize> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<IgnoredAny>();
        stream.next()?.ok().map(|_| stream.byte_offset())
    }

    #[test]
    fn strings_end_exactly_where_serde_json_says() {
        let long = format!("\"{}\" ", "x".repeat(SHORT_STRING));
        assert_eq!(short_string_end(long.as_bytes(), 0), None);
        assert_eq!(value_len(&long, 0), Ok(SHORT_STRING + 2));
        let just_short = format!("\"{}\"", "x".repeat(SHORT_STRING - 1));
        assert_eq!(short_string_end(just_short.as_bytes(), 0), Some(SHORT_STRING + 1));
        assert_eq!(short_string_end(b"1, \"x\"", 0), None);
        // Every string of up to five characters over an alphabet of quotes, escapes, hex digits,
        // control and multi-byte characters: where the short-string path answers, it agrees
        // with serde_json, and `value_len` always does.
        let alphabet = ['"', '\\', 'u', 'n', '0', 'F', 'g', '/', '\n', '\u{1}', 'é', ' '];
        let mut text = String::new();
        let mut digits = [0usize; 5];
        for len in 0..=digits.len() {
            let count = alphabet.len().pow(u32::try_from(len).unwrap());
            for mut n in 0..count {
                text.clear();
                text.push('"');
                for d in digits.iter_mut().take(len) {
                    *d = n % alphabet.len();
                    n /= alphabet.len();
                    text.push(alphabet[*d]);
                }
                let serde = serde_string_end(&text);
                if let Some(end) = short_string_end(text.as_bytes(), 0) {
                    assert_eq!(Some(end), serde, "{text:?}");
                }
                assert_eq!(value_len(&text, 0).ok(), serde, "{text:?}");
            }
        }
    }

    #[test]
    fn empty_object_is_fine() {
        assert!(scan_object(b" {} ").unwrap().members.is_empty());
    }
}
