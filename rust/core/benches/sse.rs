//! SSE decoding throughput: a realistic 200-event OpenAI stream fed in 1 KiB network chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use omniroute_core::sse::{SseDecoder, SseEvent};

fn decode_chunks(chunks: &[&[u8]], events: &mut Vec<SseEvent>) -> usize {
    events.clear();
    let mut decoder = SseDecoder::new();
    for chunk in chunks {
        decoder.feed(black_box(chunk), events);
    }
    assert!(!decoder.has_pending());
    events.len()
}

fn sse_decode(c: &mut Criterion) {
    let stream = common::openai_stream(200);
    let chunks: Vec<&[u8]> = stream.bytes.chunks(1024).collect();

    // Correctness first: every event comes out whole, in order, whatever the chunking.
    let mut events = Vec::new();
    assert_eq!(decode_chunks(&chunks, &mut events), stream.events);
    assert_eq!(events, common::sse_events(&stream.bytes));
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert!(events.iter().all(|e| e.event.is_none() && !e.data.contains('\n')));

    eprintln!("openai stream: {} events, {} B, {} chunks", stream.events, stream.bytes.len(), chunks.len());
    let mut group = c.benchmark_group("sse_decode");
    group.throughput(Throughput::Bytes(stream.bytes.len() as u64));
    group.bench_function("openai_200_events_1KiB_chunks", |b| b.iter(|| decode_chunks(&chunks, &mut events)));
    group.finish();
}

criterion_group!(benches, sse_decode);
criterion_main!(benches);
