//! PII and secret detectors (`email`, `credit_card`, `us_ssn`, `iban`, `phone`,
//! `aws_access_key`, `private_key`), with the exact semantics of the Python detectors they
//! replaced (`tests/support/pii_reference.py`), Unicode-aware `\d`, `\w`, `\s` included.
//!
//! * `email`: addresses, found from each `@`.
//! * `numbers`: cards, SSNs, IBANs and phones, looked for only in the windows of 40 characters
//!   around runs of 9 or more digits and separators (whole-text scans are too slow for agent
//!   transcripts).
//! * `secrets`: AWS keys and PEM private keys.

mod email;
mod numbers;
mod secrets;

use memchr::memchr;

use super::pyre::{decimal_first_bytes, is_decimal};
use super::text::{chars_back, chars_forward, to_hits};
use super::{GuardError, Hit};

/// A hit in byte offsets.
type Span = (&'static str, usize, usize);

/// Characters of context each side of a numeric run.
const WINDOW: usize = 40;

/// The offset of the first byte at or after `from` that can start a decimal digit (eight
/// bytes at a time: most words of text hold no digit and are all ASCII).
fn next_digit_start(bytes: &[u8], mut from: usize) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let first = decimal_first_bytes();
    let starts_digit = |b: &u8| first.get(usize::from(*b)).copied().unwrap_or(false);
    while let Some(chunk) = bytes.get(from..from + 8) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let ascii = word & LOW7;
        // Per byte: high bit of (b + 0x50) is b >= 0x30, of (b + 0x46) is b >= 0x3A.
        let digit = (ascii + 0x5050_5050_5050_5050) & !(ascii + 0x4646_4646_4646_4646);
        if (digit | word) & HIGH != 0 {
            if let Some(i) = chunk.iter().position(starts_digit) {
                return Some(from + i);
            }
        }
        from += 8;
    }
    bytes.get(from..)?.iter().position(starts_digit).map(|i| from + i)
}

/// Matches of `\d[\d \-.()]{7,}\d` (bytes): within a run of digits and separators, from its
/// first digit to its last, when that is nine characters or more.
fn numeric_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut from = 0;
    while let Some(at) = next_digit_start(text.as_bytes(), from) {
        let mut chars = text.get(at..).unwrap_or_default().char_indices().map(|(i, c)| (at + i, c));
        let Some((_, first)) = chars.next() else { break };
        if !is_decimal(first) {
            from = at + first.len_utf8();
            continue;
        }
        let (mut count, mut last_digit, mut end) = (1, (1, at + first.len_utf8()), text.len());
        for (i, c) in chars {
            if is_decimal(c) {
                count += 1;
                last_digit = (count, i + c.len_utf8());
            } else if matches!(c, ' ' | '-' | '.' | '(' | ')') {
                count += 1;
            } else {
                end = i;
                break;
            }
        }
        if last_digit.0 >= 9 {
            runs.push((at, last_digit.1));
        }
        from = end;
    }
    runs
}

/// The windows (bytes) around runs of 9+ digits and separators, merged where they touch.
fn numeric_windows(text: &str) -> Vec<(usize, usize)> {
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for (run_start, run_end) in numeric_runs(text) {
        let (start, end) = (chars_back(text, run_start, WINDOW), chars_forward(text, run_end, WINDOW));
        match windows.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => windows.push((start, end)),
        }
    }
    windows
}

/// PII hits: emails (in order), the numeric kinds (sorted by kind, then span), AWS keys, then
/// private keys, in code points.
pub(crate) fn pii_hits(text: &str) -> Result<Vec<Hit>, GuardError> {
    let mut spans = Vec::new();
    if memchr(b'@', text.as_bytes()).is_some() {
        email::email_hits(text, &mut spans);
    }
    let mut numeric = Vec::new();
    for (start, end) in numeric_windows(text) {
        numbers::numeric_hits(text, start, end, &mut numeric)?;
    }
    numeric.sort_unstable();
    numeric.dedup();
    spans.extend(numeric);
    secrets::aws_hits(text, &mut spans)?;
    secrets::private_key_hits(text, &mut spans)?;
    Ok(to_hits(text, &spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(text: &str) -> Vec<&str> {
        numeric_runs(text).into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn guard_numeric_runs_are_the_regex_matches() {
        assert_eq!(runs("call (415) 555-2671 now"), ["415) 555-2671"]);
        assert_eq!(runs("12345678 x 123456789 x -1-2-3-4-5- x 1.2.3.4"), ["123456789", "1-2-3-4-5"]);
        assert_eq!(
            runs("\u{664}\u{662}\u{664}\u{662}-\u{664}\u{662}\u{664}\u{662}\u{2192}"),
            ["\u{664}\u{662}\u{664}\u{662}-\u{664}\u{662}\u{664}\u{662}"]
        );
        assert_eq!(runs("a1b2c3d4e5f6g7h8i9j"), Vec::<&str>::new());
        for b in 0..=255u8 {
            let found = [0, 3, 8, 9].map(|at| {
                let mut bytes = *b"xxxxxxxxxxxxxxxxx";
                bytes[at] = b;
                next_digit_start(&bytes, 0).map(|i| i - at)
            });
            let starts = b.is_ascii_digit() || [0xD9, 0xDB, 0xDF, 0xE0, 0xE1, 0xEA, 0xEF, 0xF0].contains(&b);
            assert_eq!(found, [starts.then_some(0); 4], "{b:#x}");
        }
    }
}
