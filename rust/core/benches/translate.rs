//! Request translation throughput (passthrough and through the IR), the token estimate, and
//! request inspection with its structure checks against the bare scan (the reference).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use omniroute_core::inspect::inspect_request;
use omniroute_core::json_scan::scan_object;
use omniroute_core::tokens::estimate_request_tokens;
use omniroute_core::translate::{translate_request, UpstreamOptions};
use omniroute_core::Dialect;
use serde_json::Value;

use common::{parse_with_model, CHAT_MESSAGES, IMAGE_B64_LEN, MODEL};

fn opts() -> UpstreamOptions<'static> {
    UpstreamOptions { model: Some(MODEL), ..Default::default() }
}

fn translate(body: &[u8], client: Dialect, upstream: Dialect) -> Vec<u8> {
    translate_request(body, client, upstream, &opts()).unwrap().into_owned()
}

fn messages(value: &Value) -> &[Value] {
    value["messages"].as_array().expect("messages array")
}

fn requests(c: &mut Criterion) {
    let chat = common::openai_chat_body(None);
    let chat_image = common::openai_chat_body(Some(IMAGE_B64_LEN));
    let anthropic = common::anthropic_body();
    let codex = common::responses_codex_body();

    // openai -> openai: byte-stable apart from the model.
    let out = translate(&chat, Dialect::OpenAi, Dialect::OpenAi);
    let value = parse_with_model(&out);
    assert_eq!(messages(&value).len(), CHAT_MESSAGES);
    let original: Value = serde_json::from_slice(&chat).unwrap();
    assert_eq!(value["messages"], original["messages"]);
    assert_eq!(value["tools"], original["tools"]);

    // The 1 MiB image goes through untouched and the output is the input's size.
    let out = translate(&chat_image, Dialect::OpenAi, Dialect::OpenAi);
    let value = parse_with_model(&out);
    let url = value["messages"][CHAT_MESSAGES - 1]["content"][1]["image_url"]["url"].as_str().unwrap();
    assert_eq!(url.len(), "data:image/png;base64,".len() + IMAGE_B64_LEN);
    assert!(out.len().abs_diff(chat_image.len()) < 64, "{} vs {}", out.len(), chat_image.len());

    // openai -> anthropic: system lifted out, tool results become user turns.
    let out = translate(&chat, Dialect::OpenAi, Dialect::Anthropic);
    let value = parse_with_model(&out);
    assert!(value["system"].to_string().contains("careful coding assistant"));
    assert!(!messages(&value).is_empty() && value["tools"].as_array().unwrap().len() == 4);
    assert!(value["max_tokens"].as_u64().is_some());

    // anthropic -> openai: system becomes the first message, tool_use becomes tool_calls.
    let out = translate(&anthropic, Dialect::Anthropic, Dialect::OpenAi);
    let value = parse_with_model(&out);
    let msgs = messages(&value);
    assert_eq!(msgs[0]["role"], "system");
    assert!(msgs.iter().any(|m| m["role"] == "tool") && msgs.iter().any(|m| m.get("tool_calls").is_some()));
    assert_eq!(value["tools"].as_array().unwrap().len(), 4);

    // responses (Codex) -> openai.
    let out = translate(&codex, Dialect::Responses, Dialect::OpenAi);
    let value = parse_with_model(&out);
    let msgs = messages(&value);
    assert!(msgs[0]["content"].to_string().contains("You are Codex"));
    assert!(msgs.iter().any(|m| m["role"] == "tool") && msgs.iter().any(|m| m.get("tool_calls").is_some()));
    assert_eq!(value["tools"].as_array().unwrap().len(), 4);

    eprintln!(
        "request bodies: openai {} B, openai+image {} B, anthropic {} B, responses/codex {} B",
        chat.len(),
        chat_image.len(),
        anthropic.len(),
        codex.len()
    );
    let cases: [(&str, &[u8], Dialect, Dialect); 5] = [
        ("openai_to_openai_20_messages", &chat, Dialect::OpenAi, Dialect::OpenAi),
        ("openai_to_openai_20_messages_1MiB_image", &chat_image, Dialect::OpenAi, Dialect::OpenAi),
        ("openai_to_anthropic_20_messages", &chat, Dialect::OpenAi, Dialect::Anthropic),
        ("anthropic_to_openai_20_messages", &anthropic, Dialect::Anthropic, Dialect::OpenAi),
        ("responses_codex_to_openai", &codex, Dialect::Responses, Dialect::OpenAi),
    ];
    let mut group = c.benchmark_group("translate_request");
    for (name, body, client, upstream) in cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| translate_request(black_box(body), client, upstream, &opts()).unwrap())
        });
    }
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let chat = common::openai_chat_body(None);
    // First call also loads the BPE vocabulary, outside the timing.
    let estimate = estimate_request_tokens(&chat, Dialect::OpenAi).unwrap();
    assert!((1_000..20_000).contains(&estimate), "implausible estimate {estimate} for {} bytes", chat.len());

    let mut group = c.benchmark_group("estimate_request_tokens");
    group.throughput(Throughput::Bytes(chat.len() as u64));
    group.bench_function("openai_20_messages", |b| {
        b.iter(|| estimate_request_tokens(black_box(&chat), Dialect::OpenAi).unwrap())
    });
    group.finish();
}

fn inspect(c: &mut Criterion) {
    let cases = [
        ("openai_20_messages", common::openai_chat_body(None), Dialect::OpenAi),
        ("openai_20_messages_1MiB_image", common::openai_chat_body(Some(IMAGE_B64_LEN)), Dialect::OpenAi),
        ("anthropic_20_messages", common::anthropic_body(), Dialect::Anthropic),
    ];
    let mut group = c.benchmark_group("inspect_request");
    for (name, body, dialect) in &cases {
        assert!(inspect_request(body, *dialect).unwrap().model.is_some(), "{name}");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| b.iter(|| inspect_request(black_box(body), *dialect).unwrap()));
        // The same bytes scanned without structure checks: what the checks add is the difference.
        group.bench_function(format!("{name}_scan_only"), |b| b.iter(|| scan_object(black_box(body)).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, requests, tokens, inspect);
criterion_main!(benches);
