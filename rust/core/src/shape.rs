//! Structure checks for request bodies, made while the scanner walks them (no second parse).
//!
//! A `Shape` says which JSON types a node may have and, for an object, which members it knows.
//! Known members are checked as the walk reaches them; unknown members are skipped unchecked,
//! since providers add fields every month. Leaves are skipped by serde_json without being
//! decoded, so a check costs about what skipping the same bytes costs. The first problem found
//! is reported with the node's path (`messages[2].content[0].text`), which is also the OpenAI
//! error `param`.

use std::borrow::Cow;
use std::fmt;

use crate::error::{CoreError, CoreResult};
use crate::json_scan::{string_text, value_len, walk_array, walk_object};

/// What a node may be.
#[derive(Debug)]
pub enum Shape {
    /// Anything (skipped unchecked).
    Any,
    Str,
    Bool,
    Obj(&'static Object),
    Arr(&'static Shape),
    /// One of several shapes, each for a different JSON type.
    Either(&'static [Shape]),
}

/// An object's known members. Members not listed pass unchecked.
#[derive(Debug)]
pub struct Object {
    /// At most 64.
    pub fields: &'static [Field],
    /// Members required by the value of the object's `type` member.
    pub variants: &'static [Variant],
}

#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub shape: Shape,
    /// Present and not null. (An optional member may be null: that reads as absent.)
    pub required: bool,
}

/// Members an object must have when its `type` is `tag` (each listed in the object's fields).
#[derive(Debug)]
pub struct Variant {
    pub tag: &'static str,
    pub requires: &'static [&'static str],
}

impl Object {
    /// Any object at all.
    pub const OPEN: Object = Object { fields: &[], variants: &[] };

    /// The member `key` of this object's table, with its position (its bit in `seen`).
    fn field(&self, key: &str) -> Option<(usize, &Field)> {
        // Keys are short: an inline byte loop beats a `memcmp` call per candidate.
        let key = key.as_bytes();
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.key.len() == key.len() && f.key.bytes().zip(key).all(|(a, b)| a == *b))
    }
}

impl Field {
    pub const fn required(key: &'static str, shape: Shape) -> Field {
        Field { key, shape, required: true }
    }

    pub const fn optional(key: &'static str, shape: Shape) -> Field {
        Field { key, shape, required: false }
    }
}

/// The JSON type of a value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    Str,
    Arr,
    Obj,
}

impl Kind {
    fn of(first: Option<&u8>) -> Option<Kind> {
        Some(match first? {
            b'n' => Kind::Null,
            b't' | b'f' => Kind::Bool,
            b'-' | b'0'..=b'9' => Kind::Number,
            b'"' => Kind::Str,
            b'[' => Kind::Arr,
            b'{' => Kind::Obj,
            _ => return None,
        })
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::Str => "a string",
            Kind::Arr => "an array",
            Kind::Obj => "an object",
        }
    }
}

impl Shape {
    /// The shape that takes a value of `kind` (an `Either` picks its alternative).
    fn taking(&self, kind: Kind) -> Option<&Shape> {
        match (self, kind) {
            (Shape::Any, _) | (Shape::Str, Kind::Str) | (Shape::Bool, Kind::Bool) => Some(self),
            (Shape::Obj(_), Kind::Obj) | (Shape::Arr(_), Kind::Arr) => Some(self),
            (Shape::Either(options), _) => options.iter().find_map(|s| s.taking(kind)),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Shape::Any => "any value".to_owned(),
            Shape::Str => Kind::Str.noun().to_owned(),
            Shape::Bool => Kind::Bool.noun().to_owned(),
            Shape::Obj(_) => Kind::Obj.noun().to_owned(),
            Shape::Arr(_) => Kind::Arr.noun().to_owned(),
            Shape::Either(options) => options.iter().map(Shape::describe).collect::<Vec<_>>().join(" or "),
        }
    }
}

/// Where a node sits in the body; built on the stack as the walk descends, written out only
/// for an error.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn wrong_type(path: &Path<'_>, shape: &Shape, kind: Kind) -> CoreError {
    let at = path.to_string();
    CoreError::invalid_param(format!("'{at}' must be {}, not {}", shape.describe(), kind.noun()), &at)
}

fn missing(path: &Path<'_>, key: &str, tag: Option<&str>) -> CoreError {
    let at = Path::Key(path, key).to_string();
    let message = match tag {
        None => format!("'{at}' is required"),
        Some(tag) => format!("'{at}' is required when 'type' is '{tag}'"),
    };
    CoreError::invalid_param(message, &at)
}

fn bit(index: usize) -> u64 {
    u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i)).unwrap_or(0)
}

/// Checks the value that starts at `text[start..]` against `shape`; returns where it ends.
pub fn check(text: &str, start: usize, shape: &Shape, path: &Path<'_>) -> CoreResult<usize> {
    if let Shape::Any = shape {
        return Ok(start + value_len(text, start)?);
    }
    let Some(kind) = Kind::of(text.as_bytes().get(start)) else {
        value_len(text, start)?;
        return Err(CoreError::invalid("invalid JSON: value expected"));
    };
    match shape.taking(kind) {
        None => {
            // Malformed JSON is reported as such, not as the type its first byte suggests.
            value_len(text, start)?;
            Err(wrong_type(path, shape, kind))
        }
        Some(Shape::Obj(object)) => Ok(check_object(text, start, object, path, |_, _, _, _| Ok(()))? + 1),
        Some(Shape::Arr(Shape::Any)) => Ok(walk_array(text, start, |_, at| Ok(at + value_len(text, at)?))? + 1),
        Some(Shape::Arr(inner)) => {
            Ok(walk_array(text, start, |index, at| check(text, at, inner, &Path::Index(path, index)))? + 1)
        }
        Some(_) => Ok(start + value_len(text, start)?),
    }
}

/// Checks the object whose `{` is at `open` against `object`, and hands every member to
/// `on_member(key, key_start, value_start, value_end)`. Returns the offset of the closing `}`.
pub fn check_object<'a>(
    text: &'a str,
    open: usize,
    object: &Object,
    path: &Path<'_>,
    mut on_member: impl FnMut(Cow<'a, str>, usize, usize, usize) -> CoreResult<()>,
) -> CoreResult<usize> {
    let mut seen = 0u64;
    let mut tag: Option<Cow<'a, str>> = None;
    let close = walk_object(text, open, |key, key_start, value_start| {
        let end = match object.field(&key) {
            None => value_start + value_len(text, value_start)?,
            Some((index, field)) => {
                let null = text.as_bytes().get(value_start) == Some(&b'n');
                let end = if null && !field.required {
                    value_start + value_len(text, value_start)?
                } else {
                    check(text, value_start, &field.shape, &Path::Key(path, &key))?
                };
                if !null {
                    seen |= bit(index);
                    if key == "type" && !object.variants.is_empty() {
                        // A tag that does not decode (a lone surrogate escape) names no variant.
                        tag = string_text(text.get(value_start..end).unwrap_or_default()).ok();
                    }
                }
                end
            }
        };
        on_member(key, key_start, value_start, end)?;
        Ok(end)
    })?;
    if let Some(field) = object.fields.iter().enumerate().find(|(i, f)| f.required && seen & bit(*i) == 0) {
        return Err(missing(path, field.1.key, None));
    }
    if let Some(variant) = tag.and_then(|tag| object.variants.iter().find(|v| v.tag == tag)) {
        for key in variant.requires {
            if object.field(key).is_some_and(|(i, _)| seen & bit(i) == 0) {
                return Err(missing(path, key, Some(variant.tag)));
            }
        }
    }
    Ok(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    static PART: Object = Object {
        fields: &[Field::required("type", Shape::Str), Field::optional("text", Shape::Str)],
        variants: &[Variant { tag: "text", requires: &["text"] }],
    };
    static MESSAGE: Object = Object {
        fields: &[
            Field::required("role", Shape::Str),
            Field::optional("content", Shape::Either(&[Shape::Str, Shape::Arr(&Shape::Obj(&PART))])),
            Field::optional("flag", Shape::Bool),
            Field::optional("extra", Shape::Arr(&Shape::Any)),
        ],
        variants: &[],
    };
    static BODY: Object =
        Object { fields: &[Field::required("messages", Shape::Arr(&Shape::Obj(&MESSAGE)))], variants: &[] };

    fn run(text: &str) -> CoreResult<usize> {
        let open = text.find('{').unwrap();
        check_object(text, open, &BODY, &Path::Root, |_, _, _, _| Ok(()))
    }

    fn param(text: &str) -> (String, String) {
        match run(text).unwrap_err() {
            CoreError::InvalidRequest { message, param: Some(param) } => (param, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_the_shape_and_unknown_members_anywhere() {
        let text = r#"{"x":[1,{"y":null}],"messages":[{"role":"user","content":"hi","z":{}},
            {"role":"assistant","content":[{"type":"text","text":"a\"b","cache":1},{"type":"image"}],
             "flag":false,"content2":7,"extra":[1,"x",null]}],"w":true}"#;
        assert_eq!(run(text).unwrap(), text.len() - 1);
    }

    #[test]
    fn null_optional_members_read_as_absent() {
        assert!(run(r#"{"messages":[{"role":"user","content":null,"flag":null}]}"#).is_ok());
    }

    #[test]
    fn wrong_types_name_the_node() {
        assert_eq!(
            param(r#"{"messages":[0,0]}"#),
            ("messages[0]".into(), "'messages[0]' must be an object, not a number".into())
        );
        assert_eq!(
            param(r#"{"messages":{"role":"user"}}"#),
            ("messages".into(), "'messages' must be an array, not an object".into())
        );
        assert_eq!(
            param(r#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"}, "b"]}]}"#),
            ("messages[0].content[1]".into(), "'messages[0].content[1]' must be an object, not a string".into())
        );
        assert_eq!(
            param(r#"{"messages":[{"role":"user","content":5}]}"#),
            ("messages[0].content".into(), "'messages[0].content' must be a string or an array, not a number".into())
        );
        assert_eq!(param(r#"{"messages":[{"role":null}]}"#).0, "messages[0].role");
        assert_eq!(param(r#"{"messages":[{"role":"u","flag":"yes"}]}"#).0, "messages[0].flag");
    }

    #[test]
    fn missing_members_are_named() {
        assert_eq!(param(r#"{}"#), ("messages".into(), "'messages' is required".into()));
        assert_eq!(param(r#"{"messages":[{"role":"u"},{"content":"x"}]}"#).0, "messages[1].role");
        assert_eq!(param(r#"{"messages":[{"role":"u","content":[{"text":"x"}]}]}"#).0, "messages[0].content[0].type");
        assert_eq!(
            param(r#"{"messages":[{"role":"u","content":[{"type":"text","text":null}]}]}"#),
            (
                "messages[0].content[0].text".into(),
                "'messages[0].content[0].text' is required when 'type' is 'text'".into()
            )
        );
        // The tag is compared unescaped; other tags require nothing.
        assert!(run(r#"{"messages":[{"role":"u","content":[{"type":"te\u0078t"}]}]}"#).is_err());
        assert!(run(r#"{"messages":[{"role":"u","content":[{"type":"image"}]}]}"#).is_ok());
    }

    #[test]
    fn malformed_json_is_still_refused_where_it_is_checked() {
        for bad in [
            r#"{"messages":[{"role":"u"},]}"#,
            r#"{"messages":[{"role":"u",}]}"#,
            r#"{"messages":[{"role":"u" "content":"x"}]}"#,
            r#"{"messages":[{"role":"u"}"#,
            r#"{"messages":[{"role":"u\x"}]}"#,
            r#"{"messages":[{"role":"u","content":[tru]}]}"#,
            r#"{"messages":[{"role":"u","flag":nul}]}"#,
            r#"{"messages":[{"role":"u","extra":[1 2]}]}"#,
            r#"{"messages":[{"role":"u"}] "#,
            r#"{"messages":[@]}"#,
        ] {
            let err = run(bad).unwrap_err();
            assert!(err.message().starts_with("invalid JSON") || err.message().contains("truncated"), "{bad}: {err}");
        }
    }

    #[test]
    fn deep_values_in_unchecked_places_are_skipped_without_recursion() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let text = format!(r#"{{"messages":[{{"role":"u","extra":[{deep}],"z":{deep}}}]}}"#);
        assert!(run(&text).is_ok());
    }
}
