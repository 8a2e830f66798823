//! The structure of each dialect's request body that `inspect_request` checks (and
//! `count_request`, for token-counting bodies), so a same-dialect call (forwarded byte for byte,
//! never translated) is refused with a 400 naming the bad node instead of reaching the upstream.
//!
//! Only what every real client sends and every upstream requires is checked: the messages or
//! contents array and its items, content parts, tool calls and results, tools. Member shapes
//! apply whatever an object's `type` is, so a member is listed only when it has one shape in
//! every block type the provider documents (Anthropic `source` is an object in an image and a
//! string in a search result: not listed). Unknown members always pass. Inner blocks (inside a
//! tool result) use a flat table, so checking never recurses more than a few levels.

use crate::dialect::Dialect;
use crate::shape::{Field, Object, Shape, Variant};

const STR: Shape = Shape::Str;
const ANY: Shape = Shape::Any;
const OBJ: Shape = Shape::Obj(&Object::OPEN);
const STRINGS: Shape = Shape::Arr(&Shape::Str);
const OBJECTS: Shape = Shape::Arr(&OBJ);

const fn req(key: &'static str, shape: Shape) -> Field {
    Field::required(key, shape)
}

const fn opt(key: &'static str, shape: Shape) -> Field {
    Field::optional(key, shape)
}

const fn plain(fields: &'static [Field]) -> Object {
    Object { fields, variants: &[] }
}

/// The checked structure of a `dialect` request body (its top-level object).
pub fn request_shape(dialect: Dialect) -> &'static Object {
    match dialect {
        Dialect::OpenAi => &OPENAI,
        Dialect::Anthropic => &ANTHROPIC,
        Dialect::Gemini => &GEMINI,
        Dialect::Responses => &RESPONSES,
    }
}

/// The checked structure of a `dialect` token-counting body: Gemini's `:countTokens` has its own
/// envelope; Anthropic's `count_tokens` takes a Messages body (without `max_tokens`).
pub fn count_request_shape(dialect: Dialect) -> &'static Object {
    match dialect {
        Dialect::Gemini => &GEMINI_COUNT,
        other => request_shape(other),
    }
}

// OpenAI Chat Completions ------------------------------------------------------------------------

static OPENAI_PART: Object = Object {
    fields: &[
        req("type", STR),
        opt("text", STR),
        // An object per the API; some OpenAI-compatible servers take the URL as a string.
        opt("image_url", Shape::Either(&[STR, OBJ])),
    ],
    variants: &[Variant { tag: "text", requires: &["text"] }, Variant { tag: "image_url", requires: &["image_url"] }],
};

static OPENAI_CALLED: Object = plain(&[req("name", STR)]);

static OPENAI_TOOL_CALL: Object = Object {
    fields: &[opt("id", STR), opt("type", STR), opt("function", Shape::Obj(&OPENAI_CALLED))],
    variants: &[Variant { tag: "function", requires: &["function"] }],
};

static OPENAI_MESSAGE: Object = plain(&[
    req("role", STR),
    opt("content", Shape::Either(&[STR, Shape::Arr(&Shape::Obj(&OPENAI_PART))])),
    opt("name", STR),
    opt("tool_calls", Shape::Arr(&Shape::Obj(&OPENAI_TOOL_CALL))),
    opt("tool_call_id", STR),
    opt("function_call", OBJ),
]);

static OPENAI_FUNCTION: Object = plain(&[req("name", STR), opt("description", STR), opt("parameters", OBJ)]);

static OPENAI_TOOL: Object = Object {
    fields: &[opt("type", STR), opt("function", Shape::Obj(&OPENAI_FUNCTION))],
    variants: &[Variant { tag: "function", requires: &["function"] }],
};

static OPENAI: Object = plain(&[
    req("messages", Shape::Arr(&Shape::Obj(&OPENAI_MESSAGE))),
    opt("tools", Shape::Arr(&Shape::Obj(&OPENAI_TOOL))),
    opt("functions", Shape::Arr(&Shape::Obj(&OPENAI_FUNCTION))),
    opt("tool_choice", Shape::Either(&[STR, OBJ])),
    opt("stop", Shape::Either(&[STR, STRINGS])),
    opt("response_format", Shape::Obj(&TYPED)),
]);

/// An object that says what it is (`{"type": ...}`).
static TYPED: Object = plain(&[req("type", STR)]);

// Anthropic Messages ------------------------------------------------------------------------------

/// A block inside a block's `content` (a tool result's text and images, search result text).
static ANTHROPIC_INNER_BLOCK: Object = Object {
    fields: &[req("type", STR), opt("text", STR), opt("source", ANY), opt("cache_control", OBJ)],
    variants: &[
        Variant { tag: "text", requires: &["text"] },
        Variant { tag: "image", requires: &["source"] },
        Variant { tag: "document", requires: &["source"] },
    ],
};

static ANTHROPIC_BLOCK: Object = Object {
    fields: &[
        req("type", STR),
        opt("text", STR),
        opt("source", ANY),
        opt("id", STR),
        opt("name", STR),
        opt("input", OBJ),
        opt("tool_use_id", STR),
        // A string or blocks (tool and MCP results), an object (code execution results).
        opt("content", Shape::Either(&[STR, Shape::Arr(&Shape::Obj(&ANTHROPIC_INNER_BLOCK)), OBJ])),
        opt("thinking", STR),
        opt("signature", STR),
        opt("data", STR),
        opt("cache_control", OBJ),
    ],
    variants: &[
        Variant { tag: "text", requires: &["text"] },
        Variant { tag: "image", requires: &["source"] },
        Variant { tag: "document", requires: &["source"] },
        Variant { tag: "tool_use", requires: &["id", "name", "input"] },
        Variant { tag: "tool_result", requires: &["tool_use_id"] },
        Variant { tag: "thinking", requires: &["thinking"] },
        Variant { tag: "redacted_thinking", requires: &["data"] },
    ],
};

const ANTHROPIC_CONTENT: Shape = Shape::Either(&[STR, Shape::Arr(&Shape::Obj(&ANTHROPIC_BLOCK))]);

static ANTHROPIC_MESSAGE: Object = plain(&[req("role", STR), req("content", ANTHROPIC_CONTENT)]);

static ANTHROPIC_TOOL: Object = Object {
    fields: &[
        opt("type", STR),
        opt("name", STR),
        opt("description", STR),
        opt("input_schema", OBJ),
        opt("cache_control", OBJ),
    ],
    variants: &[Variant { tag: "custom", requires: &["name", "input_schema"] }],
};

static ANTHROPIC: Object = plain(&[
    req("messages", Shape::Arr(&Shape::Obj(&ANTHROPIC_MESSAGE))),
    opt("system", ANTHROPIC_CONTENT),
    opt("tools", Shape::Arr(&Shape::Obj(&ANTHROPIC_TOOL))),
    opt("tool_choice", Shape::Obj(&TYPED)),
    opt("stop_sequences", STRINGS),
    opt("metadata", OBJ),
    opt("thinking", Shape::Obj(&TYPED)),
]);

// Gemini generateContent (JSON names in both spellings: the API takes camelCase and snake_case) --

static GEMINI_BLOB: Object = plain(&[opt("mimeType", STR), opt("mime_type", STR), opt("data", STR)]);

static GEMINI_FILE: Object =
    plain(&[opt("mimeType", STR), opt("mime_type", STR), opt("fileUri", STR), opt("file_uri", STR)]);

static GEMINI_CALL: Object = plain(&[opt("name", STR), opt("args", OBJ), opt("id", STR)]);

static GEMINI_RESPONSE: Object = plain(&[opt("name", STR), opt("response", OBJ), opt("id", STR)]);

static GEMINI_PART: Object = plain(&[
    opt("text", STR),
    opt("thought", Shape::Bool),
    opt("thoughtSignature", STR),
    opt("thought_signature", STR),
    opt("inlineData", Shape::Obj(&GEMINI_BLOB)),
    opt("inline_data", Shape::Obj(&GEMINI_BLOB)),
    opt("fileData", Shape::Obj(&GEMINI_FILE)),
    opt("file_data", Shape::Obj(&GEMINI_FILE)),
    opt("functionCall", Shape::Obj(&GEMINI_CALL)),
    opt("function_call", Shape::Obj(&GEMINI_CALL)),
    opt("functionResponse", Shape::Obj(&GEMINI_RESPONSE)),
    opt("function_response", Shape::Obj(&GEMINI_RESPONSE)),
    opt("executableCode", OBJ),
    opt("executable_code", OBJ),
    opt("codeExecutionResult", OBJ),
    opt("code_execution_result", OBJ),
]);

const GEMINI_PARTS: Shape = Shape::Arr(&Shape::Obj(&GEMINI_PART));

static GEMINI_CONTENT: Object = plain(&[opt("role", STR), req("parts", GEMINI_PARTS)]);

static GEMINI_SYSTEM: Object = plain(&[opt("role", STR), opt("parts", GEMINI_PARTS)]);

static GEMINI_DECLARATION: Object = plain(&[req("name", STR), opt("description", STR), opt("parameters", OBJ)]);

const GEMINI_DECLARATIONS: Shape = Shape::Arr(&Shape::Obj(&GEMINI_DECLARATION));

static GEMINI_TOOL: Object =
    plain(&[opt("functionDeclarations", GEMINI_DECLARATIONS), opt("function_declarations", GEMINI_DECLARATIONS)]);

static GEMINI: Object = plain(&[
    req("contents", Shape::Arr(&Shape::Obj(&GEMINI_CONTENT))),
    opt("systemInstruction", Shape::Obj(&GEMINI_SYSTEM)),
    opt("system_instruction", Shape::Obj(&GEMINI_SYSTEM)),
    opt("tools", Shape::Arr(&Shape::Obj(&GEMINI_TOOL))),
    opt("toolConfig", OBJ),
    opt("tool_config", OBJ),
    opt("generationConfig", OBJ),
    opt("generation_config", OBJ),
    opt("safetySettings", OBJECTS),
    opt("safety_settings", OBJECTS),
    opt("cachedContent", STR),
    opt("cached_content", STR),
]);

/// Gemini `:countTokens`: the prompt as `contents`, or a whole `generateContentRequest` (which
/// has a generateContent body's structure; its `contents` is then the one counted). That one of
/// the two is present is checked by `count_request`, since a shape names no alternatives.
static GEMINI_COUNT: Object = plain(&[
    opt("contents", Shape::Arr(&Shape::Obj(&GEMINI_CONTENT))),
    opt("generateContentRequest", Shape::Obj(&GEMINI)),
    opt("generate_content_request", Shape::Obj(&GEMINI)),
]);

// OpenAI Responses: input items come in many types, each with its own members; only the outline.

static RESPONSES: Object = plain(&[opt("input", Shape::Either(&[STR, OBJECTS])), opt("tools", OBJECTS)]);

#[cfg(test)]
#[path = "request_shapes_tests.rs"]
mod tests;
