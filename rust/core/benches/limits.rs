//! Outbound limiter: `try_acquire` on a fresh limiter, on one whose window is full (rejecting),
//! in a steady stream spaced by the minimum gap, and `learn` from what typical rate-limit
//! headers carry (OpenAI's `x-ratelimit-*` on a 200, a 429 with `retry-after`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use omniroute_core::limits::{LearnedLimits, LimitConfig, Limiter, WINDOW_MS};

/// A typical paid-tier request limit.
const RPM: u32 = 1_000;
const GAP_MS: u64 = 10;

fn config(rpm: u32, min_gap_ms: u64) -> LimitConfig {
    LimitConfig { rpm, min_gap_ms, max_concurrent: 64 }
}

/// A limiter holding `RPM` admissions spread over the last minute before `now`: the window is full.
fn full_window(now: u64) -> Limiter {
    let mut l = Limiter::new(config(RPM, 0));
    let step = (WINDOW_MS - 1) / u64::from(RPM);
    for i in 0..u64::from(RPM) {
        assert_eq!(l.try_acquire(now - WINDOW_MS + 1 + i * step), Ok(()));
        l.release();
    }
    l
}

/// What `x-ratelimit-remaining-requests: 9999`, `-limit-requests: 10000`, `-reset-requests: 6ms` give.
const OPENAI_200: LearnedLimits =
    LearnedLimits { remaining: Some(9_999), limit: Some(10_000), reset_after_ms: Some(6), retry_after_ms: None };
/// A 429: nothing left, a 500 RPM limit, reset and `retry-after` in 20 s.
const RATE_LIMITED_429: LearnedLimits =
    LearnedLimits { remaining: Some(0), limit: Some(500), reset_after_ms: Some(20_000), retry_after_ms: Some(20_000) };

fn limits(c: &mut Criterion) {
    // Correctness first.
    let now = 10 * WINDOW_MS;
    let mut fresh = Limiter::new(config(RPM, GAP_MS));
    assert_eq!(fresh.try_acquire(now), Ok(()));
    assert_eq!(fresh.try_acquire(now + 1), Err(GAP_MS - 1));

    let mut full = full_window(now);
    assert_eq!(full.state(now).admitted_last_minute, RPM);
    assert_eq!(full.try_acquire(now), Err(1));

    let mut spaced = Limiter::new(config(10 * RPM, GAP_MS));
    let mut t = now;
    for _ in 0..2 * WINDOW_MS / GAP_MS {
        t += GAP_MS;
        assert_eq!(spaced.try_acquire(t), Ok(()));
        spaced.release();
    }
    // The window holds one admission per gap, and the log is pruned to it.
    assert_eq!(spaced.state(t).admitted_last_minute, u32::try_from(WINDOW_MS / GAP_MS).unwrap());

    let mut learner = Limiter::new(config(RPM, 0));
    learner.learn(now, OPENAI_200);
    assert_eq!((learner.state(now).effective_rpm, learner.state(now).blocked_until_ms), (RPM, None));
    learner.learn(now, RATE_LIMITED_429);
    assert_eq!((learner.state(now).effective_rpm, learner.state(now).blocked_until_ms), (500, Some(now + 20_000)));

    let mut group = c.benchmark_group("limits");
    group.bench_function("try_acquire_fresh", |b| {
        b.iter_batched(
            || Limiter::new(config(RPM, GAP_MS)),
            |mut l| {
                let admitted = l.try_acquire(black_box(now));
                (l, admitted)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("try_acquire_full_window_rejects", |b| b.iter(|| full.try_acquire(black_box(now))));
    group.bench_function("try_acquire_min_gap_steady", |b| {
        b.iter(|| {
            t += GAP_MS;
            let admitted = spaced.try_acquire(black_box(t));
            spaced.release();
            admitted
        })
    });
    group.bench_function("learn_openai_200_headers", |b| {
        b.iter(|| learner.learn(black_box(now), black_box(OPENAI_200)))
    });
    group.bench_function("learn_429_retry_after", |b| {
        b.iter(|| learner.learn(black_box(now), black_box(RATE_LIMITED_429)))
    });
    group.finish();
}

criterion_group!(benches, limits);
criterion_main!(benches);
