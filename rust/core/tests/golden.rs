#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Golden OpenAI -> OpenAI stream fixtures, shared with tests/unit/test_golden_fixtures.py.
//!
//! Each case in tests/fixtures/openai_stream is `<name>.input.sse` (upstream bytes),
//! `<name>.options.json` (`{"include_usage": bool}`) and `<name>.expected.sse` (the client
//! bytes after feeding everything and calling `finish`).

use std::fs;
use std::path::{Path, PathBuf};

use omniroute_core::stream::{StreamOptions, StreamState, StreamTranslator};
use omniroute_core::Dialect;
use serde_json::Value;

const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

struct Case {
    name: String,
    input: Vec<u8>,
    options: StreamOptions,
    expected: Vec<u8>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/openai_stream")
}

fn load_cases() -> Vec<Case> {
    let dir = fixture_dir();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".input.sse").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let read = |suffix: &str| {
                let path = dir.join(format!("{name}{suffix}"));
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            };
            let options: Value = serde_json::from_slice(&read(".options.json")).unwrap();
            let include_usage = options
                .get("include_usage")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| panic!("{name}: options need a boolean include_usage"));
            Case {
                input: read(".input.sse"),
                expected: read(".expected.sse"),
                options: StreamOptions { include_usage, ..Default::default() },
                name,
            }
        })
        .collect()
}

fn relay<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, options: StreamOptions) -> (Vec<u8>, StreamState) {
    let mut translator = StreamTranslator::new(Dialect::OpenAi, Dialect::OpenAi, options);
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(translator.feed(chunk));
    }
    out.extend(translator.finish());
    (out, translator.state())
}

fn count_frames(haystack: &[u8], frame: &[u8]) -> usize {
    haystack.windows(frame.len()).filter(|w| *w == frame).count()
}

#[test]
fn fixture_set_is_present() {
    let names: Vec<String> = load_cases().into_iter().map(|c| c.name).collect();
    for required in ["clean_with_usage", "cut_mid_chunk", "groq_extras", "missing_done", "tool_call_deltas"] {
        assert!(names.iter().any(|n| n == required), "missing fixture {required} in {names:?}");
    }
}

#[test]
fn fixtures_relay_to_expected_bytes() {
    for case in load_cases() {
        let (out, state) = relay([case.input.as_slice()], case.options);
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&case.expected), "fixture {}", case.name);
        let completed = case.expected.ends_with(DONE_FRAME);
        let want_state = if completed { StreamState::Completed } else { StreamState::Failed };
        assert_eq!(state, want_state, "fixture {}", case.name);
        assert_eq!(count_frames(&case.expected, DONE_FRAME), usize::from(completed), "fixture {}", case.name);
    }
}

#[test]
fn fixtures_do_not_depend_on_chunking() {
    for case in load_cases() {
        for size in [1, 2, 3, 7, 64] {
            let (out, _) = relay(case.input.chunks(size), case.options.clone());
            assert!(out == case.expected, "fixture {} fed in {size}-byte chunks", case.name);
        }
    }
}
