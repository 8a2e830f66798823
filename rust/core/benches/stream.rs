//! Stream translation: upstream SSE in (one event per chunk), client SSE out. Reported both as
//! upstream bytes per second and as time per upstream chunk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use omniroute_core::dialect::{Dialect, EncodeOptions};
use omniroute_core::stream::{StreamOptions, StreamState, StreamTranslator};

use common::Stream;

fn options() -> StreamOptions {
    StreamOptions {
        include_usage: true,
        encode: EncodeOptions {
            created: 1_755_443_394,
            response_id: Some("resp_gw0123456789abcdef".into()),
            model: Some("client-model".into()),
            ..Default::default()
        },
    }
}

/// Runs one whole stream through a fresh translator; returns the client bytes.
fn run(upstream: Dialect, client: Dialect, chunks: &[&[u8]]) -> Vec<u8> {
    let mut translator = StreamTranslator::new(upstream, client, options());
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(translator.feed(black_box(chunk)));
    }
    out.extend(translator.finish());
    assert_eq!(translator.state(), StreamState::Completed);
    out
}

struct Case {
    pair: &'static str,
    upstream: Dialect,
    client: Dialect,
    stream: Stream,
}

impl Case {
    fn id(&self) -> BenchmarkId {
        BenchmarkId::new(self.pair, format!("{}_events", self.stream.events))
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for events in [20, 200] {
        let pairs = [
            ("openai_to_openai", Dialect::OpenAi, Dialect::OpenAi),
            ("anthropic_to_openai", Dialect::Anthropic, Dialect::OpenAi),
            ("openai_to_anthropic", Dialect::OpenAi, Dialect::Anthropic),
            ("openai_to_responses", Dialect::OpenAi, Dialect::Responses),
        ];
        for (pair, upstream, client) in pairs {
            let stream = match upstream {
                Dialect::Anthropic => common::anthropic_stream(events),
                _ => common::openai_stream(events),
            };
            cases.push(Case { pair, upstream, client, stream });
        }
    }
    cases
}

fn stream_translate(c: &mut Criterion) {
    let cases = cases();
    let chunked: Vec<Vec<&[u8]>> = cases.iter().map(|case| case.stream.event_chunks()).collect();

    // Correctness first: the client reads the upstream's text and a clean ending.
    for (case, chunks) in cases.iter().zip(&chunked) {
        let out = run(case.upstream, case.client, chunks);
        assert_eq!(common::client_text(case.client, &out), case.stream.text, "{} {}", case.pair, case.stream.events);
        if case.upstream == case.client {
            assert_eq!(out, case.stream.bytes, "{} {}: relay is not byte-stable", case.pair, case.stream.events);
        }
    }

    for case in &cases {
        eprintln!("{} upstream stream: {} events, {} B", case.pair, case.stream.events, case.stream.bytes.len());
    }

    let mut bytes = c.benchmark_group("stream_translate_bytes");
    for (case, chunks) in cases.iter().zip(&chunked) {
        bytes.throughput(Throughput::Bytes(case.stream.bytes.len() as u64));
        bytes.bench_function(case.id(), |b| b.iter(|| run(case.upstream, case.client, chunks)));
    }
    bytes.finish();

    let mut per_chunk = c.benchmark_group("stream_translate_chunks");
    for (case, chunks) in cases.iter().zip(&chunked) {
        per_chunk.throughput(Throughput::Elements(case.stream.events as u64));
        per_chunk.bench_function(case.id(), |b| b.iter(|| run(case.upstream, case.client, chunks)));
    }
    per_chunk.finish();
}

criterion_group!(benches, stream_translate);
criterion_main!(benches);
