#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Golden cross-dialect fixtures, shared with tests/unit/test_golden_pairs.py.
//!
//! Each case is a directory `tests/fixtures/pairs/<client>_to_<upstream>/<case>/` holding either
//! a request (`request.json`, `upstream_request.json` compared as parsed JSON, optional
//! `options.json` with `model`, `merge_system`, `stream`, `force_stream_usage`) or a stream
//! (`upstream.sse`, `options.json` with `created`, `response_id`, `include_usage` and optional
//! `model`, and `client.sse`: the client bytes after feeding everything and calling `finish`).

use std::fs;
use std::path::{Path, PathBuf};

use omniroute_core::dialect::{Dialect, EncodeOptions};
use omniroute_core::stream::{StreamOptions, StreamState, StreamTranslator};
use omniroute_core::translate::{translate_request, UpstreamOptions};
use serde_json::Value;

struct Case {
    dir: PathBuf,
    name: String,
    client: Dialect,
    upstream: Dialect,
    options: Value,
}

impl Case {
    fn read(&self, file: &str) -> Vec<u8> {
        let path = self.dir.join(file);
        fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn has(&self, file: &str) -> bool {
        self.dir.join(file).is_file()
    }

    fn option_str(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(|v| v.as_str().unwrap_or_else(|| panic!("{}: '{key}' must be a string", self.name)))
    }

    fn option_bool(&self, key: &str) -> Option<bool> {
        self.options.get(key).map(|v| v.as_bool().unwrap_or_else(|| panic!("{}: '{key}' must be a boolean", self.name)))
    }

    fn stream_options(&self) -> StreamOptions {
        let created = self.options.get("created").and_then(Value::as_u64);
        StreamOptions {
            include_usage: self.option_bool("include_usage").expect("stream options need include_usage"),
            encode: EncodeOptions {
                created: created.expect("stream options need created"),
                response_id: Some(self.option_str("response_id").expect("stream options need response_id").to_owned()),
                model: self.option_str("model").map(str::to_owned),
                ..Default::default()
            },
        }
    }

    fn relay<'a>(&self, chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, StreamState) {
        let mut translator = StreamTranslator::new(self.upstream, self.client, self.stream_options());
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(translator.feed(chunk));
        }
        out.extend(translator.finish());
        (out, translator.state())
    }
}

fn pairs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pairs")
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for pair in sorted_dirs(&pairs_dir()) {
        let pair_name = pair.file_name().unwrap().to_string_lossy().into_owned();
        let (client, upstream) =
            pair_name.split_once("_to_").unwrap_or_else(|| panic!("{pair_name} is not <client>_to_<upstream>"));
        let client = Dialect::parse(client).unwrap();
        let upstream = Dialect::parse(upstream).unwrap();
        for dir in sorted_dirs(&pair) {
            let name = format!("{pair_name}/{}", dir.file_name().unwrap().to_string_lossy());
            let options_path = dir.join("options.json");
            let options = if options_path.is_file() {
                serde_json::from_slice(&fs::read(&options_path).unwrap()).unwrap()
            } else {
                Value::Object(serde_json::Map::new())
            };
            cases.push(Case { dir, name, client, upstream, options });
        }
    }
    cases
}

#[test]
fn fixture_set_covers_the_required_pairs() {
    let cases = load_cases();
    let has = |client: Dialect, upstream: Dialect, file: &str| {
        cases.iter().any(|c| c.client == client && c.upstream == upstream && c.has(file))
    };
    for (client, upstream) in [
        (Dialect::OpenAi, Dialect::Anthropic),
        (Dialect::Anthropic, Dialect::OpenAi),
        (Dialect::OpenAi, Dialect::Gemini),
        (Dialect::Responses, Dialect::OpenAi),
        (Dialect::Gemini, Dialect::Anthropic),
    ] {
        assert!(has(client, upstream, "request.json"), "no request case {client:?} -> {upstream:?}");
    }
    for (client, upstream) in [
        (Dialect::OpenAi, Dialect::Anthropic),
        (Dialect::Anthropic, Dialect::OpenAi),
        (Dialect::Responses, Dialect::Gemini),
        (Dialect::Anthropic, Dialect::Responses),
    ] {
        assert!(has(client, upstream, "upstream.sse"), "no stream case {client:?} <- {upstream:?}");
    }
    for case in &cases {
        let request = case.has("request.json") && case.has("upstream_request.json");
        let stream = case.has("upstream.sse") && case.has("client.sse") && case.has("options.json");
        assert!(request != stream, "{}: must be exactly one of a request or a stream case", case.name);
    }
}

#[test]
fn requests_translate_to_the_golden_upstream_bodies() {
    let mut seen = 0;
    for case in load_cases().iter().filter(|c| c.has("request.json")) {
        let opts = UpstreamOptions {
            model: case.option_str("model"),
            force_stream_usage: case.option_bool("force_stream_usage").unwrap_or(false),
            merge_system: case.option_bool("merge_system").unwrap_or(false),
            stream: case.option_bool("stream"),
        };
        let request = case.read("request.json");
        let out = translate_request(&request, case.client, case.upstream, &opts)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        let got: Value = serde_json::from_slice(&out).unwrap();
        let expected: Value = serde_json::from_slice(&case.read("upstream_request.json")).unwrap();
        assert_eq!(got, expected, "{}", case.name);
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} request cases");
}

#[test]
fn streams_translate_to_the_golden_client_bytes() {
    let mut seen = 0;
    for case in load_cases().iter().filter(|c| c.has("upstream.sse")) {
        let (out, state) = case.relay([case.read("upstream.sse").as_slice()]);
        let expected = case.read("client.sse");
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected), "{}", case.name);
        assert_eq!(state, StreamState::Completed, "{}", case.name);
        seen += 1;
    }
    assert!(seen >= 4, "only {seen} stream cases");
}

#[test]
fn stream_goldens_do_not_depend_on_chunking() {
    for case in load_cases().iter().filter(|c| c.has("upstream.sse")) {
        let input = case.read("upstream.sse");
        let expected = case.read("client.sse");
        for size in [1, 2, 3, 7, 64] {
            let (out, _) = case.relay(input.chunks(size));
            assert!(out == expected, "{} fed in {size}-byte chunks", case.name);
        }
    }
}
