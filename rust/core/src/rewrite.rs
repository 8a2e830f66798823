//! Byte-stable edits of a top-level JSON object: set or remove a few members and copy every
//! other byte of the client's body through unchanged (unknown fields, key order, spacing).

use std::ops::Range;

use crate::json_scan::JsonObject;

/// Edits to apply: `set` values are raw JSON text; keys absent from the body are appended.
#[derive(Debug, Default, Clone)]
pub struct Edits<'e> {
    pub set: Vec<(&'e str, String)>,
    pub remove: Vec<&'e str>,
}

impl<'e> Edits<'e> {
    pub fn set_string(&mut self, key: &'e str, value: &str) -> &mut Self {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| String::from("\"\""));
        self.set.push((key, quoted));
        self
    }

    pub fn set_raw(&mut self, key: &'e str, raw_json: impl Into<String>) -> &mut Self {
        self.set.push((key, raw_json.into()));
        self
    }

    pub fn remove(&mut self, key: &'e str) -> &mut Self {
        self.remove.push(key);
        self
    }

    /// True when applying the edits would reproduce the body byte for byte: every key to set is
    /// present with exactly that raw value (in all its occurrences) and no key to remove is.
    pub fn leaves_unchanged(&self, obj: &JsonObject<'_>) -> bool {
        let members = &obj.members;
        let removes_nothing = self.remove.iter().all(|k| members.iter().all(|m| m.key != *k));
        removes_nothing
            && self.set.iter().all(|(key, value)| {
                let mut present = members.iter().filter(|m| m.key == *key).peekable();
                present.peek().is_some() && present.all(|m| m.raw == value.as_str())
            })
    }
}

/// One stretch of an edited body: a range of the original bytes, or new bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Kept(Range<usize>),
    New(Vec<u8>),
}

/// Where the edited body goes: appended to one buffer, or described as pieces.
trait Sink {
    fn kept(&mut self, text: &str, range: Range<usize>);
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn kept(&mut self, text: &str, range: Range<usize>) {
        self.extend_from_slice(&text.as_bytes()[range]);
    }

    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Vec<Piece> {
    fn kept(&mut self, _text: &str, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        match self.last_mut() {
            Some(Piece::Kept(last)) if last.end == range.start => last.end = range.end,
            _ => self.push(Piece::Kept(range)),
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.last_mut() {
            Some(Piece::New(last)) => last.extend_from_slice(bytes),
            _ => self.push(Piece::New(bytes.to_vec())),
        }
    }
}

/// Applies `edits` to the scanned object and returns the new body.
pub fn apply(obj: &JsonObject<'_>, edits: &Edits<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(obj.text.len() + 64);
    emit(obj, edits, &mut out);
    out
}

/// The edited body as pieces in order, adjacent kept ranges merged: a large body with a small
/// edit is a few ranges of the original around the new bytes, and nothing is copied.
pub fn pieces(obj: &JsonObject<'_>, edits: &Edits<'_>) -> Vec<Piece> {
    let mut out = Vec::new();
    emit(obj, edits, &mut out);
    out
}

/// The original's `range`, or `fallback` should the range not fall on the text's characters.
fn keep(sink: &mut impl Sink, text: &str, range: Range<usize>, fallback: &str) {
    if text.get(range.clone()).is_some() {
        sink.kept(text, range);
    } else {
        sink.put(fallback.as_bytes());
    }
}

fn emit(obj: &JsonObject<'_>, edits: &Edits<'_>, sink: &mut impl Sink) {
    let text = obj.text;
    let members = &obj.members;
    let head_end = members.first().map_or(obj.close, |m| m.start);
    keep(sink, text, 0..head_end, "");

    let mut previous: Option<usize> = None;
    for (i, m) in members.iter().enumerate() {
        if edits.remove.iter().any(|k| *k == m.key) {
            continue;
        }
        if let Some(p) = previous {
            let sep_end = members.get(p + 1).map_or(m.start, |next| next.start);
            keep(sink, text, members[p].value_end..sep_end, ",");
        }
        keep(sink, text, m.start..m.value_start, "");
        match edits.set.iter().find(|(k, _)| *k == m.key) {
            Some((_, value)) => sink.put(value.as_bytes()),
            None => keep(sink, text, m.value_start..m.value_end, m.raw),
        }
        previous = Some(i);
    }
    for (key, value) in &edits.set {
        if obj.get(key).is_some() {
            continue;
        }
        if previous.is_some() {
            sink.put(b",");
        }
        sink.put(b"\"");
        sink.put(key.as_bytes());
        sink.put(b"\":");
        sink.put(value.as_bytes());
        previous = previous.or(Some(usize::MAX));
    }
    let tail_start = members.last().map_or(obj.close, |m| m.value_end);
    keep(sink, text, tail_start..text.len(), "}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_scan::scan_object;

    /// `apply`'s output, checked equal to the pieces laid end to end.
    fn run(body: &str, edits: &Edits<'_>) -> String {
        let obj = scan_object(body.as_bytes()).unwrap();
        let whole = apply(&obj, edits);
        assert_eq!(joined(body, &pieces(&obj, edits)), whole, "pieces differ from apply");
        String::from_utf8(whole).unwrap()
    }

    fn joined(body: &str, pieces: &[Piece]) -> Vec<u8> {
        pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Kept(range) => body.as_bytes()[range.clone()].to_vec(),
                Piece::New(bytes) => bytes.clone(),
            })
            .collect()
    }

    #[test]
    fn a_small_edit_of_a_large_body_is_kept_ranges_around_the_new_bytes() {
        let image = "A".repeat(100_000);
        let body = format!(r#"{{"model":"openai/m","messages":[{{"role":"user","content":"{image}"}}]}}"#);
        let mut e = Edits::default();
        e.set_string("model", "m").remove("stream_options");
        let obj = scan_object(body.as_bytes()).unwrap();
        let got = pieces(&obj, &e);
        let value = body.find("\"openai/m\"").unwrap();
        assert_eq!(
            got,
            vec![
                Piece::Kept(0..value),
                Piece::New(b"\"m\"".to_vec()),
                Piece::Kept(value + "\"openai/m\"".len()..body.len())
            ]
        );
    }

    #[test]
    fn replaces_value_and_keeps_every_other_byte() {
        let mut e = Edits::default();
        e.set_string("model", "gpt-4o");
        let body = "{ \"model\" : \"openai/gpt-4o\",\n  \"x_unknown\": {\"b\":1.50e3} ,\"z\":[ ] }\n";
        assert_eq!(run(body, &e), "{ \"model\" : \"gpt-4o\",\n  \"x_unknown\": {\"b\":1.50e3} ,\"z\":[ ] }\n");
    }

    #[test]
    fn removes_first_middle_and_last_members() {
        let body = r#"{"a":1, "b":2, "c":3}"#;
        for (key, want) in [("a", r#"{"b":2, "c":3}"#), ("b", r#"{"a":1, "c":3}"#), ("c", r#"{"a":1, "b":2}"#)] {
            let mut e = Edits::default();
            e.remove(key);
            assert_eq!(run(body, &e), want);
        }
        let mut e = Edits::default();
        e.remove("a").remove("b").remove("c");
        assert_eq!(run(body, &e), "{}");
    }

    #[test]
    fn appends_absent_keys() {
        let mut e = Edits::default();
        e.set_raw("stream", "true");
        assert_eq!(run(r#"{"a":1}"#, &e), r#"{"a":1,"stream":true}"#);
        assert_eq!(run("{ }", &e), r#"{ "stream":true}"#);
    }
}
