//! The prompt guard's detectors: spans of prompt-injection phrases, delimiter spoofing, PII and
//! secrets in one text (what the user wrote, or a tool result).
//!
//! These are the exact semantics of the plain-Python detectors they replaced (kept as the test
//! oracle in `tests/support/guard_reference.py`): same kinds, same spans, same order. Spans are
//! code-point offsets into the text, so the Python side slices its `str` with them directly.
//! What is detected, and why, is documented in `python/omniroute/security/detectors.py`.
//!
//! * `text`: invisible characters, code-point offsets, lone surrogates from Python.
//! * `pyre`: Python `re` semantics (classes, `IGNORECASE`, look-around) over the `regex` crate.
//! * `injection`: the phrase detectors (`ignore_instructions`, `role_hijack`, `prompt_leak`).
//! * `spoof`: chat-template delimiters in user text (`delimiter_spoof`), outside Markdown code.
//! * `pii`: PII and secrets (`email`, `credit_card`, `us_ssn`, `iban`, `phone`,
//!   `aws_access_key`, `private_key`).

mod injection;
mod pii;
mod pyre;
mod spoof;
mod text;

use std::fmt;

pub use text::from_surrogatepass;

/// One detector hit: its kind and its span, in code points of the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

/// The detectors' patterns did not compile: a bug in this module (the tests compile them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError(String);

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "prompt guard patterns do not compile: {}", self.0)
    }
}

impl std::error::Error for GuardError {}

impl GuardError {
    fn new(err: impl fmt::Display) -> Self {
        GuardError(err.to_string())
    }
}

/// Injection hits in `text`: the phrase kinds in the order `ignore_instructions`,
/// `role_hijack`, `prompt_leak` (each by position), then `delimiter_spoof` (by position),
/// which only counts in `user_authored` text.
pub fn find_injection(text: &str, user_authored: bool) -> Result<Vec<Hit>, GuardError> {
    let clean = text::Clean::new(text);
    let mut hits = injection::phrase_hits(clean.text())?;
    if user_authored {
        hits.extend(spoof::spoof_hits(clean.text())?);
    }
    clean.map_back(&mut hits);
    Ok(hits)
}

/// PII and secret hits in `text`: emails, then the numeric kinds (sorted by kind, then span),
/// then AWS keys, then private keys.
pub fn find_pii(text: &str) -> Result<Vec<Hit>, GuardError> {
    pii::pii_hits(text)
}
