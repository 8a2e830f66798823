#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! In-band upstream errors through the stream translator, every cross-dialect pairing: the
//! client's error carries the meaning of the upstream's (src/error_kinds.rs), in its own words.

use omniroute_core::dialect::Dialect;
use omniroute_core::sse::SseDecoder;
use omniroute_core::stream::{StreamOptions, StreamState, StreamTranslator};
use serde_json::Value;

const OPENAI_START: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
    \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
const ANTHROPIC_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\
    \"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n\
    event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
    event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
const GEMINI_START: &str =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}],\"responseId\":\"r\"}\n\n";
const RESPONSES_START: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\
    \"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"m\",\"output\":[]}}\n\n";

fn openai_error(error: &str) -> String {
    format!("{OPENAI_START}data: {{\"error\":{error}}}\n\n")
}

fn anthropic_error(error_type: &str) -> String {
    format!(
        "{ANTHROPIC_START}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"{error_type}\",\"message\":\"m\"}}}}\n\n"
    )
}

fn gemini_error(code: u16, status: &str) -> String {
    format!("{GEMINI_START}data: {{\"error\":{{\"code\":{code},\"message\":\"m\",\"status\":\"{status}\"}}}}\n\n")
}

fn responses_error(payload: &str) -> String {
    format!("{RESPONSES_START}{payload}")
}

/// What each client is told: (Gemini status, Gemini code, Anthropic type, OpenAI type, Responses code).
type Told = (&'static str, u64, &'static str, &'static str, &'static str);

const RATE_LIMITED: Told = ("RESOURCE_EXHAUSTED", 429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded");
const INVALID: Told = ("INVALID_ARGUMENT", 400, "invalid_request_error", "invalid_request_error", "invalid_prompt");
const INTERNAL: Told = ("INTERNAL", 500, "api_error", "server_error", "server_error");
const UNAVAILABLE: Told = ("UNAVAILABLE", 503, "overloaded_error", "server_error", "server_error");
const TIMEOUT: Told = ("DEADLINE_EXCEEDED", 504, "timeout_error", "server_error", "server_error");
const AUTH: Told = ("UNAUTHENTICATED", 401, "authentication_error", "authentication_error", "server_error");
const NOT_FOUND: Told = ("NOT_FOUND", 404, "not_found_error", "invalid_request_error", "invalid_prompt");

fn cases() -> Vec<(Dialect, String, Told)> {
    vec![
        (
            Dialect::OpenAi,
            openai_error(r#"{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"m"}"#),
            RATE_LIMITED,
        ),
        (Dialect::OpenAi, openai_error(r#"{"type":"requests","code":"rate_limit_exceeded","message":"m"}"#), RATE_LIMITED),
        (
            Dialect::OpenAi,
            openai_error(r#"{"type":"invalid_request_error","code":"context_length_exceeded","message":"m"}"#),
            INVALID,
        ),
        (Dialect::OpenAi, openai_error(r#"{"type":"server_error","code":null,"message":"m"}"#), INTERNAL),
        // OpenAI's code is the specific word: an invalid key, an unknown model.
        (Dialect::OpenAi, openai_error(r#"{"type":"invalid_request_error","code":"invalid_api_key","message":"m"}"#), AUTH),
        (Dialect::OpenAi, openai_error(r#"{"type":"invalid_request_error","code":"model_not_found","message":"m"}"#), NOT_FOUND),
        (Dialect::OpenAi, openai_error(r#"{"object":"error","type":"ServiceUnavailableError","code":503,"message":"m"}"#), UNAVAILABLE),
        (Dialect::OpenAi, openai_error(r#"{"message":"m"}"#), INTERNAL),
        (Dialect::Anthropic, anthropic_error("overloaded_error"), UNAVAILABLE),
        (Dialect::Anthropic, anthropic_error("rate_limit_error"), RATE_LIMITED),
        (Dialect::Anthropic, anthropic_error("api_error"), INTERNAL),
        (Dialect::Anthropic, anthropic_error("invalid_request_error"), INVALID),
        (Dialect::Anthropic, anthropic_error("timeout_error"), TIMEOUT),
        (Dialect::Anthropic, anthropic_error("authentication_error"), AUTH),
        (Dialect::Gemini, gemini_error(429, "RESOURCE_EXHAUSTED"), RATE_LIMITED),
        (Dialect::Gemini, gemini_error(503, "UNAVAILABLE"), UNAVAILABLE),
        (Dialect::Gemini, gemini_error(400, "INVALID_ARGUMENT"), INVALID),
        (Dialect::Gemini, gemini_error(500, "INTERNAL"), INTERNAL),
        (Dialect::Gemini, gemini_error(504, "DEADLINE_EXCEEDED"), TIMEOUT),
        (
            Dialect::Responses,
            responses_error(
                "event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,\"code\":\"rate_limit_exceeded\",\"message\":\"m\"}\n\n",
            ),
            RATE_LIMITED,
        ),
        (
            Dialect::Responses,
            responses_error(
                "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\
                 \"status\":\"failed\",\"output\":[],\"error\":{\"code\":\"server_error\",\"message\":\"m\"}}}\n\n",
            ),
            INTERNAL,
        ),
    ]
}

/// The payload of the last SSE event the client got.
fn last_payload(bytes: &[u8]) -> Value {
    let mut events = Vec::new();
    SseDecoder::new().feed(bytes, &mut events);
    serde_json::from_str(&events.last().expect("no event").data).unwrap()
}

#[test]
fn every_client_gets_the_meaning_of_the_upstreams_error() {
    let clients = [Dialect::OpenAi, Dialect::Anthropic, Dialect::Gemini, Dialect::Responses];
    for (upstream, stream, (rpc, code, anthropic, openai, responses)) in cases() {
        for client in clients.into_iter().filter(|c| *c != upstream) {
            let mut t = StreamTranslator::new(upstream, client, StreamOptions::default());
            let mut out = t.feed(stream.as_bytes());
            out.extend(t.finish());
            let at = format!("{upstream:?} -> {client:?}: {stream}");
            assert_eq!(t.state(), StreamState::Failed, "{at}");
            assert_eq!(t.error_message(), Some("m"), "{at}");
            let payload = last_payload(&out);
            match client {
                Dialect::Gemini => {
                    assert_eq!(payload["error"]["status"], rpc, "{at}");
                    assert_eq!(payload["error"]["code"], code, "{at}");
                    assert_eq!(payload["error"]["message"], "m", "{at}");
                }
                Dialect::Anthropic => {
                    assert_eq!(payload["type"], "error", "{at}");
                    assert_eq!(payload["error"]["type"], anthropic, "{at}");
                }
                Dialect::OpenAi => assert_eq!(payload["error"]["type"], openai, "{at}"),
                Dialect::Responses => {
                    assert_eq!(payload["type"], "response.failed", "{at}");
                    assert_eq!(payload["response"]["error"]["code"], responses, "{at}");
                }
            }
        }
    }
}

#[test]
fn an_openai_client_also_gets_the_upstreams_own_word_as_the_code() {
    let mut t = StreamTranslator::new(Dialect::Anthropic, Dialect::OpenAi, StreamOptions::default());
    let out = t.feed(anthropic_error("overloaded_error").as_bytes());
    let error = &last_payload(&out)["error"];
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("server_error"), Some("overloaded_error")));
}

#[test]
fn a_stream_cut_without_an_error_event_is_still_a_gateway_502() {
    for client in [Dialect::Gemini, Dialect::Anthropic] {
        let mut t = StreamTranslator::new(Dialect::OpenAi, client, StreamOptions::default());
        let mut out = t.feed(OPENAI_START.as_bytes());
        out.extend(t.finish());
        let payload = last_payload(&out);
        if client == Dialect::Gemini {
            assert_eq!(
                (payload["error"]["code"].as_u64(), payload["error"]["status"].as_str()),
                (Some(502), Some("UNAVAILABLE"))
            );
        } else {
            assert_eq!(payload["error"]["type"], "api_error");
        }
    }
}
