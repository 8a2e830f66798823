//! HTTP/1.1 codec: parsing a typical upstream response head, and decoding a chunked 200-event
//! OpenAI stream delivered one chunk per read (token-by-token) and in 1 KiB reads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use omniroute_core::http1::{parse_response_head, ChunkedDecoder, Framing};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Mon, 18 Aug 2025 14:03:14 GMT\r\n\
Content-Type: text/event-stream; charset=utf-8\r\n\
Transfer-Encoding: chunked\r\n\
Connection: keep-alive\r\n\
access-control-expose-headers: X-Request-ID\r\n\
openai-organization: user-abc123\r\n\
openai-processing-ms: 187\r\n\
openai-version: 2020-10-01\r\n\
x-ratelimit-limit-requests: 10000\r\n\
x-ratelimit-limit-tokens: 30000000\r\n\
x-ratelimit-remaining-requests: 9999\r\n\
x-ratelimit-remaining-tokens: 29999980\r\n\
x-ratelimit-reset-requests: 6ms\r\n\
x-ratelimit-reset-tokens: 0s\r\n\
x-request-id: req_6b1f0e2d9c8a7b6f5e4d3c2b1a098765\r\n\
strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n\
cf-cache-status: DYNAMIC\r\n\
Server: cloudflare\r\n\
cf-ray: 97123456789abcde-FRA\r\n\
alt-svc: h3=\":443\"; ma=86400\r\n\
\r\n";

/// Chunk-encodes each piece as one chunk and appends the last chunk.
fn chunk_encode(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn decode(reads: &[&[u8]], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut decoder = ChunkedDecoder::new();
    let mut consumed = 0;
    for read in reads {
        consumed += decoder.feed(black_box(read), out).unwrap();
    }
    assert!(decoder.is_done());
    consumed
}

fn http1(c: &mut Criterion) {
    // Correctness first.
    let head = parse_response_head(HEAD).unwrap().unwrap();
    assert_eq!((head.status, head.framing, head.keep_alive), (200, Framing::Chunked, true));
    assert_eq!((head.head_len, head.headers.len()), (HEAD.len(), 20));

    let stream = common::openai_stream(200);
    let events = stream.event_chunks();
    let body = chunk_encode(&events);
    // One chunk per socket read, as a token-by-token upstream delivers it.
    let mut per_event: Vec<&[u8]> = Vec::with_capacity(events.len() + 1);
    let mut rest = body.as_slice();
    for event in &events {
        let framed = format!("{:x}\r\n", event.len()).len() + event.len() + 2;
        let (read, tail) = rest.split_at(framed);
        per_event.push(read);
        rest = tail;
    }
    per_event.push(rest);
    let per_kib: Vec<&[u8]> = body.chunks(1024).collect();
    let mut out = Vec::with_capacity(stream.bytes.len());
    for reads in [&per_event, &per_kib] {
        assert_eq!(decode(reads, &mut out), body.len());
        assert_eq!(out, stream.bytes);
    }

    let mut group = c.benchmark_group("http1");
    group.throughput(Throughput::Bytes(HEAD.len() as u64));
    group.bench_function("parse_head_20_fields", |b| b.iter(|| parse_response_head(black_box(HEAD))));
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chunked_openai_200_events_per_event_reads", |b| b.iter(|| decode(&per_event, &mut out)));
    group.bench_function("chunked_openai_200_events_1KiB_reads", |b| b.iter(|| decode(&per_kib, &mut out)));
    group.finish();
}

criterion_group!(benches, http1);
criterion_main!(benches);
