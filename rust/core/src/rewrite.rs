//! Byte-stable edits of a top-level JSON object: set or remove a few members and copy every
//! other byte of the client's body through unchanged (unknown fields, key order, spacing).

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

/// Applies `edits` to the scanned object and returns the new body.
pub fn apply(obj: &JsonObject<'_>, edits: &Edits<'_>) -> Vec<u8> {
    let text = obj.text;
    let members = &obj.members;
    let mut out = Vec::with_capacity(text.len() + 64);
    let head_end = members.first().map_or(obj.close, |m| m.start);
    out.extend_from_slice(text.get(..head_end).unwrap_or_default().as_bytes());

    let mut previous: Option<usize> = None;
    for (i, m) in members.iter().enumerate() {
        if edits.remove.iter().any(|k| *k == m.key) {
            continue;
        }
        if let Some(p) = previous {
            let sep_end = members.get(p + 1).map_or(m.start, |next| next.start);
            out.extend_from_slice(text.get(members[p].value_end..sep_end).unwrap_or(",").as_bytes());
        }
        out.extend_from_slice(text.get(m.start..m.value_start).unwrap_or_default().as_bytes());
        match edits.set.iter().find(|(k, _)| *k == m.key) {
            Some((_, value)) => out.extend_from_slice(value.as_bytes()),
            None => out.extend_from_slice(m.raw.as_bytes()),
        }
        previous = Some(i);
    }
    for (key, value) in &edits.set {
        if obj.get(key).is_some() {
            continue;
        }
        if previous.is_some() {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value.as_bytes());
        previous = previous.or(Some(usize::MAX));
    }
    let tail_start = members.last().map_or(obj.close, |m| m.value_end);
    out.extend_from_slice(text.get(tail_start..).unwrap_or("}").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_scan::scan_object;

    fn run(body: &str, edits: &Edits<'_>) -> String {
        String::from_utf8(apply(&scan_object(body.as_bytes()).unwrap(), edits)).unwrap()
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
