//! JSON Schema <-> Gemini `Schema` (the OpenAPI 3.0 subset Gemini accepts for tool parameters
//! and `responseSchema`).
//!
//! Toward Gemini the converter works from an allow-list: every keyword Gemini does not know is
//! dropped, local `$ref`s are inlined (cycles and deep chains stop at a plain object schema),
//! `oneOf` becomes `anyOf`, simple `allOf`s are merged, `["T", "null"]` becomes `nullable`,
//! enums are stringified, arrays get a default `items`, and type names are upper-cased. The
//! reverse direction only lower-cases types and turns `nullable` back into a `null` type.
//! Recursion is bounded on both sides and nothing here can panic.

use serde_json::{json, Map, Value};

/// Deepest nesting converted; below it a subschema becomes a plain object.
const MAX_DEPTH: usize = 48;
/// Longest chain of `$ref`s inlined inside one another.
const MAX_REF_CHAIN: usize = 12;

/// Keywords copied as they are when their value has the right JSON type.
const NUMBER_KEYWORDS: [&str; 8] =
    ["minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "minProperties", "maxProperties"];

/// Converts any JSON Schema (draft 2020-12, draft 7, OpenAI function parameters, OpenAPI 3.0)
/// into a Gemini `Schema`.
pub fn to_gemini_schema(schema: &Value) -> Value {
    let mut ctx = Ctx { root: schema, refs: Vec::new() };
    ctx.convert(schema, 0)
}

struct Ctx<'a> {
    root: &'a Value,
    /// `$ref`s being inlined, outermost first (a repeat is a cycle).
    refs: Vec<String>,
}

fn plain_object() -> Value {
    json!({"type": "OBJECT"})
}

fn gemini_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "string" => "STRING",
        "number" => "NUMBER",
        "integer" => "INTEGER",
        "boolean" => "BOOLEAN",
        "array" => "ARRAY",
        "object" => "OBJECT",
        "null" => "NULL",
        _ => return None,
    })
}

/// Formats Gemini accepts for each type; anything else is rejected by the API.
fn format_allowed(ty: Option<&str>, format: &str) -> bool {
    matches!(
        (ty, format),
        (Some("STRING"), "date-time" | "enum")
            | (Some("NUMBER"), "float" | "double")
            | (Some("INTEGER"), "int32" | "int64")
    )
}

fn enum_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Ctx<'_> {
    fn convert(&mut self, node: &Value, depth: usize) -> Value {
        let Some(obj) = node.as_object() else {
            // `true` / `{}`-like schemas accept anything; Gemini has no "any", so say nothing.
            return Value::Object(Map::new());
        };
        if depth > MAX_DEPTH {
            return plain_object();
        }
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            return self.convert_ref(reference, obj, depth);
        }
        if let Some(Value::Array(members)) = obj.get("allOf") {
            return self.convert_all_of(members, obj, depth);
        }
        let mut out = Map::new();
        let mut nullable = obj.get("nullable").and_then(Value::as_bool).unwrap_or(false);

        // Types: a list with `null` becomes `nullable`; several real types become `anyOf`.
        let mut types: Vec<&'static str> = match obj.get("type") {
            Some(Value::String(t)) => gemini_type(t).into_iter().collect(),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).filter_map(gemini_type).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"NULL") {
            types.retain(|t| *t != "NULL");
            nullable = true;
        }
        let mut ty: Option<&'static str> = match types.as_slice() {
            [one] => Some(one),
            _ => None,
        };

        // Enum / const: Gemini enums are string-only.
        let mut values: Vec<String> = Vec::new();
        if let Some(Value::Array(list)) = obj.get("enum") {
            values.extend(list.iter().filter_map(enum_value));
            nullable |= list.iter().any(Value::is_null);
        }
        if let Some(c) = obj.get("const") {
            values = enum_value(c).into_iter().collect();
        }
        if !values.is_empty() {
            ty = Some("STRING");
            types.clear();
        }

        // anyOf / oneOf: convert members, fold `null` members into `nullable`.
        let mut any_of: Vec<Value> = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(members)) = obj.get(key) {
                for member in members {
                    let is_null = member.get("type").and_then(Value::as_str) == Some("null");
                    if is_null {
                        nullable = true;
                    } else {
                        any_of.push(self.convert(member, depth + 1));
                    }
                }
            }
        }
        if types.len() > 1 && any_of.is_empty() {
            any_of = types.iter().map(|t| json!({ "type": t })).collect();
        }

        let properties = match obj.get("properties") {
            Some(Value::Object(props)) => {
                let mut converted = Map::new();
                for (name, sub) in props {
                    if sub.is_object() || sub.is_boolean() {
                        converted.insert(name.clone(), self.convert(sub, depth + 1));
                    }
                }
                Some(converted)
            }
            _ => None,
        };
        let items = match obj.get("items").or_else(|| obj.get("prefixItems")) {
            Some(Value::Array(tuple)) => tuple.first().map(|first| self.convert(first, depth + 1)),
            Some(sub @ (Value::Object(_) | Value::Bool(true))) => Some(self.convert(sub, depth + 1)),
            _ => None,
        };

        if ty.is_none() && any_of.is_empty() {
            ty = if properties.is_some() {
                Some("OBJECT")
            } else if items.is_some() {
                Some("ARRAY")
            } else {
                None
            };
        }

        if let Some(t) = ty {
            out.insert("type".into(), json!(t));
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str) {
            if format_allowed(ty, format) {
                out.insert("format".into(), json!(format));
            }
        }
        for key in ["title", "description", "pattern"] {
            if let Some(Value::String(s)) = obj.get(key) {
                out.insert(key.into(), json!(s));
            }
        }
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        if !values.is_empty() {
            out.insert("enum".into(), json!(values));
        }
        // A single alternative left (typically `X | null`) is just that schema.
        let single = if any_of.len() == 1 && ty.is_none() {
            any_of.pop()
        } else {
            if !any_of.is_empty() {
                out.insert("anyOf".into(), Value::Array(any_of));
            }
            None
        };
        if let Some(props) = properties.filter(|p| !p.is_empty()) {
            let has = |name: &str| props.contains_key(name);
            if let Some(Value::Array(required)) = obj.get("required") {
                let kept: Vec<&str> = required.iter().filter_map(Value::as_str).filter(|name| has(name)).collect();
                if !kept.is_empty() {
                    out.insert("required".into(), json!(kept));
                }
            }
            if let Some(Value::Array(order)) = obj.get("propertyOrdering") {
                let kept: Vec<&str> = order.iter().filter_map(Value::as_str).filter(|name| has(name)).collect();
                if !kept.is_empty() {
                    out.insert("propertyOrdering".into(), json!(kept));
                }
            }
            out.insert("properties".into(), Value::Object(props));
        }
        if ty == Some("ARRAY") {
            // Gemini needs `items`; an untyped list is most often a list of strings.
            let items = items
                .filter(|i| i.as_object().is_some_and(|m| !m.is_empty()))
                .unwrap_or_else(|| json!({"type": "STRING"}));
            out.insert("items".into(), items);
        }
        for key in NUMBER_KEYWORDS {
            if let Some(n @ Value::Number(_)) = obj.get(key) {
                out.insert(key.into(), n.clone());
            }
        }
        // Exclusive bounds have no Gemini form: the inclusive bound is the closest.
        for (exclusive, inclusive) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            if let Some(n @ Value::Number(_)) = obj.get(exclusive) {
                out.entry(inclusive).or_insert_with(|| n.clone());
            }
        }
        if let Some(default) = obj.get("default") {
            out.insert("default".into(), default.clone());
        }
        match single {
            Some(Value::Object(mut base)) => {
                base.extend(out);
                Value::Object(base)
            }
            _ => Value::Object(out),
        }
    }

    fn convert_ref(&mut self, reference: &str, obj: &Map<String, Value>, depth: usize) -> Value {
        let target = reference.strip_prefix('#').and_then(|pointer| self.root.pointer(pointer));
        let cyclic = self.refs.iter().any(|r| r == reference);
        let mut out = match target {
            Some(target) if !cyclic && self.refs.len() < MAX_REF_CHAIN => {
                self.refs.push(reference.to_owned());
                let converted = self.convert(target, depth + 1);
                self.refs.pop();
                converted
            }
            _ => plain_object(),
        };
        // Sibling keywords of `$ref` (2020-12 allows them) refine the target.
        if let Value::Object(map) = &mut out {
            for key in ["description", "title"] {
                if let Some(Value::String(s)) = obj.get(key) {
                    map.insert(key.into(), json!(s));
                }
            }
            if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
                map.insert("nullable".into(), json!(true));
            }
        }
        out
    }

    /// Object members are merged (properties and required united); anything else keeps the
    /// first member, since Gemini has no intersection.
    fn convert_all_of(&mut self, members: &[Value], obj: &Map<String, Value>, depth: usize) -> Value {
        let mut own = obj.clone();
        own.remove("allOf");
        let mut parts: Vec<Value> = members.iter().map(|m| self.convert(m, depth + 1)).collect();
        let own_converted = self.convert(&Value::Object(own), depth + 1);
        let objectish = |v: &Value| {
            v.get("anyOf").is_none()
                && v.get("enum").is_none()
                && matches!(v.get("type").and_then(Value::as_str), None | Some("OBJECT"))
        };
        if parts.is_empty() {
            return own_converted;
        }
        if !parts.iter().all(objectish) || !objectish(&own_converted) {
            let mut first = parts.swap_remove(0);
            if let (Value::Object(map), Value::Object(own)) = (&mut first, own_converted) {
                for (key, value) in own {
                    map.insert(key, value);
                }
            }
            return first;
        }
        let mut merged = Map::new();
        let mut properties = Map::new();
        let mut required: Vec<Value> = Vec::new();
        for part in parts.into_iter().chain(std::iter::once(own_converted)) {
            let Value::Object(map) = part else { continue };
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("properties", Value::Object(props)) => properties.extend(props),
                    ("required", Value::Array(names)) => {
                        for name in names {
                            if !required.contains(&name) {
                                required.push(name);
                            }
                        }
                    }
                    (_, value) => {
                        merged.insert(key, value);
                    }
                }
            }
        }
        if !properties.is_empty() {
            merged.insert("type".into(), json!("OBJECT"));
            if !required.is_empty() {
                merged.insert("required".into(), Value::Array(required));
            }
            merged.insert("properties".into(), Value::Object(properties));
        }
        Value::Object(merged)
    }
}

/// Converts a Gemini `Schema` back into JSON Schema (for non-Gemini upstreams).
pub fn to_json_schema(schema: &Value) -> Value {
    from_gemini(schema, 0)
}

fn from_gemini(node: &Value, depth: usize) -> Value {
    let Some(obj) = node.as_object() else {
        return Value::Object(Map::new());
    };
    if depth > MAX_DEPTH {
        return json!({"type": "object"});
    }
    let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "type" => {
                let Some(name) = value.as_str() else { continue };
                let lower = name.to_ascii_lowercase();
                if lower == "type_unspecified" {
                    continue;
                }
                let ty = if nullable && lower != "null" { json!([lower, "null"]) } else { json!(lower) };
                out.insert("type".into(), ty);
            }
            "nullable" | "propertyOrdering" => {}
            "properties" => {
                let Value::Object(props) = value else {
                    continue;
                };
                let converted: Map<String, Value> =
                    props.iter().map(|(name, sub)| (name.clone(), from_gemini(sub, depth + 1))).collect();
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" => {
                out.insert(key.clone(), from_gemini(value, depth + 1));
            }
            "anyOf" => {
                let Value::Array(members) = value else {
                    continue;
                };
                let mut converted: Vec<Value> = members.iter().map(|m| from_gemini(m, depth + 1)).collect();
                if nullable && obj.get("type").is_none() {
                    converted.push(json!({"type": "null"}));
                }
                out.insert(key.clone(), Value::Array(converted));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_parameters_become_gemini_schema() {
        let input = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "description": "City name", "examples": ["Paris"]},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "format": "int32"},
                "tags": {"type": "array"},
                "any_list": {"type": "array", "items": true},
                "site": {"type": "string", "format": "uri"}
            },
            "required": ["city", "ghost"]
        });
        assert_eq!(
            to_gemini_schema(&input),
            json!({
                "type": "OBJECT",
                "required": ["city"],
                "properties": {
                    "city": {"type": "STRING", "description": "City name"},
                    "unit": {"type": "STRING", "nullable": true, "enum": ["c", "f"]},
                    "days": {"type": "INTEGER", "format": "int32", "minimum": 1, "maximum": 7},
                    "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                    "any_list": {"type": "ARRAY", "items": {"type": "STRING"}},
                    "site": {"type": "STRING"}
                }
            })
        );
    }

    #[test]
    fn refs_are_inlined_and_cycles_stop() {
        let input = json!({
            "type": "object",
            "properties": {
                "address": {"$ref": "#/$defs/Address", "description": "Where"},
                "node": {"$ref": "#/definitions/Node"},
                "remote": {"$ref": "https://example.com/x.json"}
            },
            "$defs": {"Address": {"type": "object", "properties": {"zip": {"type": "string"}}}},
            "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}}
        });
        let out = to_gemini_schema(&input);
        assert_eq!(
            out["properties"]["address"],
            json!({"type": "OBJECT", "properties": {"zip": {"type": "STRING"}}, "description": "Where"})
        );
        assert_eq!(out["properties"]["node"], json!({"type": "OBJECT", "properties": {"next": {"type": "OBJECT"}}}));
        assert_eq!(out["properties"]["remote"], json!({"type": "OBJECT"}));
        assert!(out.get("$defs").is_none() && out.get("definitions").is_none());
    }

    #[test]
    fn one_of_any_of_const_and_nulls() {
        let input = json!({
            "type": "object",
            "properties": {
                "a": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "c": {"const": 3},
                "d": {"enum": [1, "two", true, null]},
                "e": {"type": ["string", "integer"]}
            }
        });
        let out = to_gemini_schema(&input);
        let props = &out["properties"];
        assert_eq!(props["a"], json!({"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}));
        assert_eq!(props["b"], json!({"type": "STRING", "nullable": true}));
        assert_eq!(props["c"], json!({"type": "STRING", "enum": ["3"]}));
        assert_eq!(props["d"], json!({"type": "STRING", "nullable": true, "enum": ["1", "two", "true"]}));
        assert_eq!(props["e"], json!({"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}));
    }

    #[test]
    fn all_of_objects_merge_else_first_wins() {
        let merged = to_gemini_schema(&json!({
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}
            ],
            "description": "both"
        }));
        assert_eq!(
            merged,
            json!({
                "type": "OBJECT",
                "description": "both",
                "required": ["a", "b"],
                "properties": {"a": {"type": "STRING"}, "b": {"type": "BOOLEAN"}}
            })
        );
        let first = to_gemini_schema(&json!({"allOf": [{"type": "string"}, {"minLength": 2}]}));
        assert_eq!(first, json!({"type": "STRING"}));
    }

    #[test]
    fn tuple_items_and_inferred_types() {
        let out = to_gemini_schema(&json!({
            "properties": {"pair": {"prefixItems": [{"type": "number"}, {"type": "string"}]}}
        }));
        assert_eq!(
            out,
            json!({"type": "OBJECT", "properties": {"pair": {"type": "ARRAY", "items": {"type": "NUMBER"}}}})
        );
    }

    #[test]
    fn hostile_inputs_do_not_panic_and_stay_bounded() {
        let mut deep = json!({"type": "string"});
        for _ in 0..500 {
            deep = json!({"type": "array", "items": deep});
        }
        let out = to_gemini_schema(&deep);
        assert!(out.to_string().len() < 10_000);
        // A chain of refs that point at each other.
        let mutual = json!({
            "$ref": "#/$defs/A",
            "$defs": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
                "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}
            }
        });
        let out = to_gemini_schema(&mutual);
        assert_eq!(out["properties"]["b"]["properties"]["a"], json!({"type": "OBJECT"}));
        for junk in [
            json!(null),
            json!(3),
            json!("x"),
            json!([1, 2]),
            json!({"type": 7, "properties": 3, "items": "no", "required": "x", "enum": {}}),
        ] {
            let _ = to_gemini_schema(&junk);
            let _ = to_json_schema(&junk);
        }
    }

    #[test]
    fn gemini_schema_back_to_json_schema() {
        let gemini = json!({
            "type": "OBJECT",
            "properties": {
                "q": {"type": "STRING", "nullable": true},
                "n": {"type": "ARRAY", "items": {"type": "INTEGER"}}
            },
            "required": ["q"],
            "propertyOrdering": ["q", "n"]
        });
        assert_eq!(
            to_json_schema(&gemini),
            json!({
                "type": "object",
                "properties": {
                    "q": {"type": ["string", "null"]},
                    "n": {"type": "array", "items": {"type": "integer"}}
                },
                "required": ["q"]
            })
        );
    }
}
