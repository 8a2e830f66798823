//! Realistic inputs shared by the benchmarks: chat bodies in each client dialect and upstream
//! SSE streams, all generated deterministically (no clock, no randomness between runs), plus
//! the checks each benchmark runs on its output before timing it.

// Every bench binary compiles this module but uses only part of it.
#![allow(dead_code)]

use omniroute_core::sse::{SseDecoder, SseEvent};
use omniroute_core::Dialect;
use serde_json::{json, Value};

/// The model name the benchmarks ask the translator to write upstream.
pub const MODEL: &str = "bench-model";

/// Messages in the chat bodies (system prompt included where the dialect has it inline).
pub const CHAT_MESSAGES: usize = 20;

/// Base64 characters of the big inline image (1 MiB).
pub const IMAGE_B64_LEN: usize = 1 << 20;

/// The vocabulary of the generated prose.
const VOCABULARY: &str = "the request gateway returns a stream of events while the client waits for model to finish \
    its answer and every token is forwarded as soon it arrives function file src/main.rs cargo test passes with no \
    warnings latency matters because users read text while generated so buffering would hurt";

fn words() -> Vec<&'static str> {
    VOCABULARY.split_whitespace().collect()
}

/// Small deterministic generator (64-bit LCG, top bits).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` words of English-ish prose with sentence punctuation.
pub fn prose(seed: u64, n: usize) -> String {
    let words = words();
    let mut rng = Lcg::new(seed);
    let mut out = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            out.push(if i % 13 == 0 { '.' } else { ' ' });
            if i % 13 == 0 {
                out.push(' ');
            }
        }
        out.push_str(words[rng.below(words.len())]);
    }
    out.push('.');
    out
}

/// Source-code-looking tool output of about `lines` lines.
pub fn code(seed: u64, lines: usize) -> String {
    let words = words();
    let mut rng = Lcg::new(seed);
    let mut out = String::new();
    for i in 0..lines {
        let indent = "    ".repeat(rng.below(3));
        let w1 = words[rng.below(words.len())];
        let w2 = words[rng.below(words.len())];
        out.push_str(&format!("{i:>4}\t{indent}let {w1}_{i} = {w2}(\"{w1}\", {});\n", rng.below(1000)));
    }
    out
}

/// `len` characters of base64 (len is a multiple of 4, so it is well-formed without padding).
pub fn base64_blob(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Lcg::new(7);
    (0..len).map(|_| char::from(ALPHABET[rng.below(64)])).collect()
}

/// A tool: name, description and (property, JSON type, description) of its parameters.
type ToolSpec = (&'static str, &'static str, &'static [(&'static str, &'static str, &'static str)]);

/// (name, description, JSON schema) of the tools a coding agent typically declares.
fn agent_tools() -> Vec<(String, String, Value)> {
    let specs: [ToolSpec; 4] = [
        (
            "read_file",
            "Reads a file from the workspace and returns its contents with line numbers.",
            &[("path", "string", "Path relative to the workspace root"), ("offset", "integer", "First line to read")],
        ),
        (
            "shell",
            "Runs a shell command in the sandbox and returns stdout, stderr and the exit code.",
            &[("command", "string", "The command line"), ("timeout_ms", "integer", "Timeout in milliseconds")],
        ),
        (
            "apply_patch",
            "Applies a unified diff to the workspace. Fails if the patch does not apply cleanly.",
            &[("patch", "string", "The patch in unified diff format")],
        ),
        (
            "search",
            "Searches the workspace for a regular expression and returns matching lines.",
            &[("pattern", "string", "Regular expression"), ("glob", "string", "Only files matching this glob")],
        ),
    ];
    specs
        .iter()
        .map(|(name, description, props)| {
            let properties: serde_json::Map<String, Value> = props
                .iter()
                .map(|(prop, ty, desc)| ((*prop).to_owned(), json!({"type": ty, "description": desc})))
                .collect();
            let required = [props[0].0];
            let schema =
                json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false});
            ((*name).to_owned(), (*description).to_owned(), schema)
        })
        .collect()
}

fn system_prompt() -> String {
    format!(
        "You are a careful coding assistant working in the user's repository. {}\n\n# Rules\n{}",
        prose(1, 120),
        (0..12).map(|i| format!("- {}\n", prose(100 + i, 18))).collect::<String>()
    )
}

/// An OpenAI Chat Completions body with `CHAT_MESSAGES` messages (system, four rounds of
/// user / assistant tool call / tool result / assistant answer, then a short exchange), four
/// tools, streaming with usage. With `image_b64_len`, the last user turn carries an inline
/// base64 PNG of that many characters.
pub fn openai_chat_body(image_b64_len: Option<usize>) -> Vec<u8> {
    let mut messages = vec![json!({"role": "system", "content": system_prompt()})];
    for round in 0..4u64 {
        let call_id = format!("call_{round:02}AbCdEfGhIjKlMnOpQrSt");
        messages.push(json!({"role": "user", "content": prose(10 + round, 45)}));
        messages.push(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": call_id,
                "type": "function",
                "function": {"name": "read_file", "arguments": format!("{{\"path\":\"src/module_{round}.rs\",\"offset\":1}}")}
            }]
        }));
        messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": code(20 + round, 25)}));
        messages.push(json!({"role": "assistant", "content": prose(30 + round, 110)}));
    }
    messages.push(json!({"role": "user", "content": prose(40, 30)}));
    messages.push(json!({"role": "assistant", "content": prose(41, 60)}));
    let last_user = match image_b64_len {
        Some(len) => json!({"role": "user", "content": [
            {"type": "text", "text": "What does this screenshot of the failing test show?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", base64_blob(len)), "detail": "high"}}
        ]}),
        None => json!({"role": "user", "content": prose(42, 25)}),
    };
    messages.push(last_user);
    assert_eq!(messages.len(), CHAT_MESSAGES);
    let tools: Vec<Value> = agent_tools()
        .into_iter()
        .map(|(name, description, parameters)| {
            json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
        })
        .collect();
    let body = json!({
        "model": "openai/gpt-4o",
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "temperature": 0.2,
        "max_completion_tokens": 4096,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "user-1234"
    });
    serde_json::to_vec(&body).unwrap()
}

/// An Anthropic Messages body in the shape Claude Code sends: system blocks with cache
/// control, `CHAT_MESSAGES` alternating turns with thinking, tool use and tool results.
pub fn anthropic_body() -> Vec<u8> {
    let mut messages = Vec::new();
    messages.push(json!({"role": "user", "content": [{"type": "text", "text": prose(50, 40)}]}));
    let mut round = 0u64;
    while messages.len() < CHAT_MESSAGES - 1 {
        let id = format!("toolu_01{round:02}XFDUDYJgAACzvnptvVoYEL");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": prose(60 + round, 40), "signature": base64_blob(256)},
            {"type": "text", "text": prose(70 + round, 20)},
            {"type": "tool_use", "id": id, "name": "read_file", "input": {"path": format!("src/module_{round}.rs")}}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": code(80 + round, 25)},
            {"type": "text", "text": prose(90 + round, 20)}
        ]}));
        round += 1;
    }
    messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": prose(99, 30)}]}));
    messages.truncate(CHAT_MESSAGES - 1);
    messages.push(json!({"role": "user", "content": [
        {"type": "text", "text": prose(98, 25), "cache_control": {"type": "ephemeral"}}
    ]}));
    assert_eq!(messages.len(), CHAT_MESSAGES);
    let tools: Vec<Value> = agent_tools()
        .into_iter()
        .map(|(name, description, schema)| json!({"name": name, "description": description, "input_schema": schema}))
        .collect();
    let body = json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": system_prompt(), "cache_control": {"type": "ephemeral"}}
        ],
        "messages": messages,
        "tools": tools,
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "metadata": {"user_id": "user_abc123"},
        "stream": true
    });
    serde_json::to_vec(&body).unwrap()
}

/// An OpenAI Responses body in the shape the Codex CLI sends: a long `instructions` prompt,
/// developer and environment messages, reasoning items with encrypted content, function calls
/// and their outputs, function tools.
pub fn responses_codex_body() -> Vec<u8> {
    let instructions = format!(
        "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.\n\n{}",
        (0..40).map(|i| format!("## Section {i}\n\n{}\n\n", prose(200 + i, 70))).collect::<String>()
    );
    let mut input = vec![
        json!({"type": "message", "role": "developer", "content": [
            {"type": "input_text", "text": "<permissions instructions>Sandbox: workspace-write. Network: restricted.</permissions instructions>"}
        ]}),
        json!({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/repo</cwd>\n  <shell>bash</shell>\n</environment_context>"}
        ]}),
    ];
    for round in 0..4u64 {
        let call_id = format!("call_{round:02}Xy12AbCdEf34GhIjKl56MnOp");
        input.push(json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": prose(300 + round, 40)}]}));
        input.push(json!({
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": prose(310 + round, 30)}],
            "content": null,
            "encrypted_content": base64_blob(1024)
        }));
        input.push(json!({
            "type": "function_call",
            "name": "shell",
            "arguments": format!("{{\"command\":\"cat src/module_{round}.rs\",\"timeout_ms\":10000}}"),
            "call_id": call_id
        }));
        input.push(json!({
            "type": "function_call_output",
            "call_id": call_id,
            "output": json!({"output": code(320 + round, 25), "metadata": {"exit_code": 0, "duration_seconds": 0.1}}).to_string()
        }));
        input.push(json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": prose(330 + round, 80)}]}));
    }
    input.push(json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": prose(340, 20)}]}));
    let tools: Vec<Value> = agent_tools()
        .into_iter()
        .map(|(name, description, parameters)| {
            json!({"type": "function", "name": name, "description": description, "strict": false, "parameters": parameters})
        })
        .collect();
    let body = json!({
        "model": "gpt-5-codex",
        "instructions": instructions,
        "input": input,
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0198c1f2-aaaa-bbbb-cccc-0123456789ab"
    });
    serde_json::to_vec(&body).unwrap()
}

/// An upstream stream and what a client should read from it.
pub struct Stream {
    pub bytes: Vec<u8>,
    /// Number of SSE events (including the terminal `[DONE]` / `message_stop`).
    pub events: usize,
    /// The assistant text the deltas add up to.
    pub text: String,
}

impl Stream {
    /// The stream cut one event per chunk, as token-by-token upstreams deliver it.
    pub fn event_chunks(&self) -> Vec<&[u8]> {
        let mut chunks = Vec::with_capacity(self.events);
        let mut rest = self.bytes.as_slice();
        while let Some(pos) = rest.windows(2).position(|w| w == b"\n\n") {
            let (chunk, tail) = rest.split_at(pos + 2);
            chunks.push(chunk);
            rest = tail;
        }
        assert!(rest.is_empty(), "stream must end with a blank line");
        assert_eq!(chunks.len(), self.events);
        chunks
    }
}

/// Text deltas: one to three words each, as models emit tokens.
fn deltas(seed: u64, n: usize) -> Vec<String> {
    let words = words();
    let mut rng = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let count = 1 + rng.below(3);
            (0..count)
                .map(|w| {
                    let word = words[rng.below(words.len())];
                    if i == 0 && w == 0 {
                        word.to_owned()
                    } else {
                        format!(" {word}")
                    }
                })
                .collect()
        })
        .collect()
}

/// An OpenAI Chat Completions stream of `events` SSE events: the role chunk, text deltas, the
/// finish chunk, the usage chunk and `[DONE]`.
pub fn openai_stream(events: usize) -> Stream {
    assert!(events >= 5);
    let head = r#"{"id":"chatcmpl-C2xZbRqJ8mN4vT6yW1pK3sL5dF7gH","object":"chat.completion.chunk","created":1755443394,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":"#;
    let mut out = String::new();
    let mut frame = |delta: &str, finish: &str| {
        out.push_str("data: ");
        out.push_str(head);
        out.push_str(delta);
        out.push_str(r#","logprobs":null,"finish_reason":"#);
        out.push_str(finish);
        out.push_str("}]}\n\n");
    };
    frame(r#"{"role":"assistant","content":"","refusal":null}"#, "null");
    let pieces = deltas(11, events - 4);
    for piece in &pieces {
        frame(&format!(r#"{{"content":{}}}"#, json!(piece)), "null");
    }
    frame("{}", r#""stop""#);
    out.push_str(r#"data: {"id":"chatcmpl-C2xZbRqJ8mN4vT6yW1pK3sL5dF7gH","object":"chat.completion.chunk","created":1755443394,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[],"usage":{"prompt_tokens":1843,"completion_tokens":412,"total_tokens":2255,"prompt_tokens_details":{"cached_tokens":1536,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#);
    out.push_str("\n\ndata: [DONE]\n\n");
    Stream { bytes: out.into_bytes(), events, text: pieces.concat() }
}

/// An Anthropic Messages stream of `events` SSE events: message_start, a text block (with a
/// ping after its start), message_delta and message_stop.
pub fn anthropic_stream(events: usize) -> Stream {
    assert!(events >= 7);
    let mut out = String::new();
    let mut event = |name: &str, data: &str| {
        out.push_str("event: ");
        out.push_str(name);
        out.push_str("\ndata: ");
        out.push_str(data);
        out.push_str("\n\n");
    };
    event(
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":2,"service_tier":"standard"}}}"#,
    );
    event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    );
    event("ping", r#"{"type": "ping"}"#);
    let pieces = deltas(12, events - 6);
    for piece in &pieces {
        event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{}}}}}"#,
                json!(piece)
            ),
        );
    }
    event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#);
    event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":412}}"#,
    );
    event("message_stop", r#"{"type":"message_stop"}"#);
    Stream { bytes: out.into_bytes(), events, text: pieces.concat() }
}

/// Decodes a whole SSE byte string.
pub fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    assert!(!decoder.has_pending(), "stream ends mid-event");
    events
}

/// The assistant text a client of `dialect` reads from translated stream bytes; also checks
/// the stream ends with that dialect's clean terminal event.
pub fn client_text(dialect: Dialect, bytes: &[u8]) -> String {
    let events = sse_events(bytes);
    let last = events.last().expect("translated stream is empty");
    let mut text = String::new();
    match dialect {
        Dialect::OpenAi => {
            assert_eq!(last.data, "[DONE]");
            for event in &events[..events.len() - 1] {
                let value: Value = serde_json::from_str(&event.data).unwrap();
                assert!(value.get("error").is_none(), "error event: {}", event.data);
                if let Some(piece) = value["choices"][0]["delta"]["content"].as_str() {
                    text.push_str(piece);
                }
            }
        }
        Dialect::Anthropic => {
            assert_eq!(last.event.as_deref(), Some("message_stop"));
            for event in &events {
                assert_ne!(event.event.as_deref(), Some("error"), "error event: {}", event.data);
                if event.event.as_deref() == Some("content_block_delta") {
                    let value: Value = serde_json::from_str(&event.data).unwrap();
                    if let Some(piece) = value["delta"]["text"].as_str() {
                        text.push_str(piece);
                    }
                }
            }
        }
        Dialect::Responses => {
            assert_eq!(last.event.as_deref(), Some("response.completed"));
            for event in &events {
                if event.event.as_deref() == Some("response.output_text.delta") {
                    let value: Value = serde_json::from_str(&event.data).unwrap();
                    text.push_str(value["delta"].as_str().unwrap());
                }
            }
        }
        Dialect::Gemini => panic!("no Gemini stream benchmark"),
    }
    text
}

/// Parses a translated request body and checks it names the benchmark model.
pub fn parse_with_model(body: &[u8]) -> Value {
    let value: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(value["model"], json!(MODEL), "model not rewritten");
    value
}
