//! The user-visible text of a client request, as the prompt guard scans it.
//!
//! Per dialect (the rules of `security/prompt_guard.py`, which keeps the same walk over parsed
//! bodies for redaction):
//! * OpenAI Chat: `messages[]` of role `user` (a string or `text` parts), and of role `tool` /
//!   `function` (tool results);
//! * Anthropic: `messages[]` of role `user`: a string, `text` blocks, `tool_result` blocks (their
//!   string or `text` content, tool results);
//! * Gemini: `contents[]` except role `model`: `text` parts not marked `thought`, and every
//!   string inside `functionResponse.response` (tool results, at most 32 levels deep);
//! * Responses: `input` as a string, user `message` items (`input_text` / `text` parts) and the
//!   `output` of `*_output` items (tool results).
//!
//! Each text comes with whether the user wrote it (tool results are not). Values are read as raw
//! JSON and only the texts are decoded: a megabyte of base64 image is stepped over, never copied.
//! Shapes the rules do not expect (a role that is not a string, content that is a number) add
//! nothing, as in the Python walk. `None` when the body is not a JSON object the parser accepts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::dialect::Dialect;

/// One scanned text and whether the user wrote it.
pub type Segment = (String, bool);

/// Nesting below `functionResponse.response` that is still read (deeper values add nothing).
const MAX_DEPTH: usize = 32;

/// A JSON value read in one pass: strings borrowed from the body unless they hold escapes,
/// numbers and literals kept as the few facts the walk needs.
#[derive(Debug)]
enum Node<'a> {
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    /// Members in document order, repeated keys included (readers take the last value, and the
    /// first place when they walk every member: what a Python dict does with such a document).
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
    Null,
    /// Booleans and numbers, with their Python truthiness.
    Scalar(bool),
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(v != 0))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(v != 0))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Scalar(v != 0.0))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Arr(items))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Node<'de>, M::Error> {
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        Ok(Node::Obj(members))
    }
}

/// An object key, borrowed when it holds no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_str(NodeVisitor)? {
            Node::Str(s) => Ok(Key(s)),
            _ => Err(serde::de::Error::custom("object key expected")),
        }
    }
}

impl<'a> Node<'a> {
    fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    fn field_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::str)
    }

    fn items<'n>(node: Option<&'n Node<'a>>) -> &'n [Node<'a>] {
        match node {
            Some(Node::Arr(items)) => items,
            _ => &[],
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Node::Str(s) => !s.is_empty(),
            Node::Arr(items) => !items.is_empty(),
            Node::Obj(members) => !members.is_empty(),
            Node::Scalar(truth) => *truth,
            Node::Null => false,
        }
    }
}

struct Texts(Vec<Segment>);

impl Texts {
    fn push(&mut self, text: &str, user: bool) {
        self.0.push((text.to_owned(), user));
    }

    /// `holder[key]` as a string, or the `text` of its parts whose `type` is one of `kinds`.
    fn content(&mut self, holder: &Node<'_>, key: &str, kinds: &[&str], user: bool) {
        match holder.get(key) {
            Some(Node::Str(text)) => self.push(text, user),
            value => self.parts(value, kinds, user),
        }
    }

    fn parts(&mut self, value: Option<&Node<'_>>, kinds: &[&str], user: bool) {
        for part in Node::items(value) {
            if part.field_str("type").is_some_and(|t| kinds.contains(&t)) {
                if let Some(text) = part.field_str("text") {
                    self.push(text, user);
                }
            }
        }
    }

    /// Every string nested in `node` (object values and array items).
    fn strings(&mut self, node: &Node<'_>, user: bool, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut visit = |child: &Node<'_>| match child {
            Node::Str(text) => self.push(text, user),
            Node::Obj(_) | Node::Arr(_) => self.strings(child, user, depth + 1),
            Node::Scalar(_) | Node::Null => {}
        };
        match node {
            Node::Obj(members) => {
                // A repeated key: its first place, its last value.
                let last: HashMap<&str, usize> =
                    members.iter().enumerate().map(|(i, (k, _))| (k.as_ref(), i)).collect();
                let mut seen: HashSet<&str> = HashSet::new();
                for (key, _) in members {
                    if seen.insert(key.as_ref()) {
                        visit(&members[last[key.as_ref()]].1);
                    }
                }
            }
            Node::Arr(items) => items.iter().for_each(visit),
            _ => {}
        }
    }

    fn openai(&mut self, body: &Node<'_>) {
        for msg in Node::items(body.get("messages")) {
            match msg.field_str("role") {
                Some("user") => self.content(msg, "content", &["text"], true),
                Some("tool" | "function") => self.content(msg, "content", &["text"], false),
                _ => {}
            }
        }
    }

    fn anthropic(&mut self, body: &Node<'_>) {
        for msg in Node::items(body.get("messages")) {
            if msg.field_str("role") != Some("user") {
                continue;
            }
            let content = msg.get("content");
            if let Some(text) = content.and_then(Node::str) {
                self.push(text, true);
                continue;
            }
            for block in Node::items(content) {
                match block.field_str("type") {
                    Some("text") => {
                        if let Some(text) = block.field_str("text") {
                            self.push(text, true);
                        }
                    }
                    Some("tool_result") => self.content(block, "content", &["text"], false),
                    _ => {}
                }
            }
        }
    }

    fn gemini(&mut self, body: &Node<'_>) {
        for item in Node::items(body.get("contents")) {
            if !matches!(item, Node::Obj(_)) || item.field_str("role") == Some("model") {
                continue;
            }
            for part in Node::items(item.get("parts")) {
                if let Some(text) = part.field_str("text") {
                    if !part.get("thought").is_some_and(Node::truthy) {
                        self.push(text, true);
                    }
                }
                let inner = part.get("functionResponse").and_then(|r| r.get("response"));
                if let Some(inner) = inner.filter(|n| matches!(n, Node::Obj(_) | Node::Arr(_))) {
                    self.strings(inner, false, 0);
                }
            }
        }
    }

    fn responses(&mut self, body: &Node<'_>) {
        let input = body.get("input");
        if let Some(text) = input.and_then(Node::str) {
            self.push(text, true);
            return;
        }
        for item in Node::items(input) {
            let kind = item.get("type");
            let untyped = matches!(kind, None | Some(Node::Null));
            if item.field_str("role") == Some("user") && (untyped || kind.and_then(Node::str) == Some("message")) {
                self.content(item, "content", &["input_text", "text"], true);
            } else if kind.and_then(Node::str).is_some_and(|k| k.ends_with("_output")) {
                match item.get("output") {
                    Some(Node::Str(text)) => self.push(text.as_ref(), false),
                    output => self.parts(output, &["input_text", "output_text", "text"], false),
                }
            }
        }
    }
}

/// The texts of `body` the prompt guard scans, in document order; `None` when `body` is not a
/// JSON object this parser accepts (the caller then reads it its own way).
pub fn prompt_texts(body: &[u8], dialect: Dialect) -> Option<Vec<Segment>> {
    let text = std::str::from_utf8(body).ok()?;
    let root: Node<'_> = serde_json::from_str(text).ok()?;
    if !matches!(root, Node::Obj(_)) {
        return None;
    }
    let mut texts = Texts(Vec::new());
    match dialect {
        Dialect::OpenAi => texts.openai(&root),
        Dialect::Anthropic => texts.anthropic(&root),
        Dialect::Gemini => texts.gemini(&root),
        Dialect::Responses => texts.responses(&root),
    }
    Some(texts.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str, dialect: Dialect) -> Vec<(String, bool)> {
        prompt_texts(body.as_bytes(), dialect).unwrap()
    }

    fn seg(text: &str, user: bool) -> (String, bool) {
        (text.to_owned(), user)
    }

    #[test]
    fn openai_user_text_and_tool_results() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"sys"},
            {"role":"user","content":"hi \u00e9"},
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}},{"type":"text","text":7}]},
            {"role":"assistant","content":"no"},
            {"role":"tool","content":"result"},
            {"role":"function","content":[{"type":"text","text":"f"}]},
            {"role":5,"content":"x"}, 3, "y"]}"#;
        assert_eq!(
            texts(body, Dialect::OpenAi),
            [seg("hi é", true), seg("a", true), seg("result", false), seg("f", false)]
        );
    }

    #[test]
    fn anthropic_blocks_and_tool_results() {
        let body = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"q"},
            {"type":"tool_result","content":[{"type":"text","text":"r"}]},{"type":"tool_result","content":"s"}]},
            {"role":"assistant","content":"no"},{"role":"user","content":"plain"}]}"#;
        assert_eq!(
            texts(body, Dialect::Anthropic),
            [seg("q", true), seg("r", false), seg("s", false), seg("plain", true)]
        );
    }

    #[test]
    fn gemini_parts_thoughts_and_function_responses() {
        let body = r#"{"contents":[{"role":"user","parts":[{"text":"u"},{"text":"t","thought":true},{"text":"z","thought":0},
            {"functionResponse":{"name":"f","response":{"a":"x","b":[1,"y",{"c":"z"}]}}}]},
            {"role":"model","parts":[{"text":"no"}]},{"parts":[{"text":"no role"}]}]}"#;
        assert_eq!(
            texts(body, Dialect::Gemini),
            [seg("u", true), seg("z", true), seg("x", false), seg("y", false), seg("z", false), seg("no role", true)]
        );
    }

    #[test]
    fn responses_input_string_items_and_outputs() {
        assert_eq!(texts(r#"{"input":"hello"}"#, Dialect::Responses), [seg("hello", true)]);
        let body = r#"{"input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},
            {"type":"message","role":"user","content":"b"},{"type":"function_call_output","output":"c"},
            {"type":"x_output","output":[{"type":"output_text","text":"d"}]},{"role":"assistant","content":"no"}]}"#;
        assert_eq!(texts(body, Dialect::Responses), [seg("a", true), seg("b", true), seg("c", false), seg("d", false)]);
    }

    #[test]
    fn repeated_keys_keep_the_last_value_and_deep_nesting_stops() {
        let body = r#"{"messages":[{"role":"user","content":"first","content":"last"}]}"#;
        assert_eq!(texts(body, Dialect::OpenAi), [seg("last", true)]);
        let deep = format!(
            r#"{{"contents":[{{"parts":[{{"functionResponse":{{"response":{}"deep"{}}}}}]}}]}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(texts(&deep, Dialect::Gemini), []);
    }

    #[test]
    fn repeated_keys_in_a_function_response_keep_their_first_place() {
        let body = r#"{"contents":[{"parts":[{"functionResponse":{"response":{"a":"1","b":"2","a":"3"}}}]}]}"#;
        assert_eq!(texts(body, Dialect::Gemini), [seg("3", false), seg("2", false)]);
    }

    #[test]
    fn an_object_with_many_keys_is_read_without_comparing_its_keys() {
        let keys: Vec<String> = (0..200_000).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let body = format!(r#"{{"metadata":{{{}}},"messages":[{{"role":"user","content":"hi"}}]}}"#, keys.join(","));
        // Finding repeated keys as they arrive would take 2·10¹⁰ comparisons here.
        assert_eq!(texts(&body, Dialect::OpenAi), [seg("hi", true)]);
    }

    #[test]
    fn not_an_object_is_none() {
        assert_eq!(prompt_texts(b"[1]", Dialect::OpenAi), None);
        assert_eq!(prompt_texts(b"{", Dialect::OpenAi), None);
        assert_eq!(prompt_texts(b"\xff", Dialect::OpenAi), None);
    }
}
