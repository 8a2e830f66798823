//! Python `re` semantics on top of the `regex` crate, for the patterns ported from the Python
//! detectors.
//!
//! * Character classes of `str` patterns: `\w` is letters, numbers and `_` (`\p{L}\p{N}_`,
//!   which is what Python's `str.isalnum()` tests, plus `_`), `\d` is `\p{Nd}` (the same in
//!   both), `\s` is [`PY_SPACE`]. `IGNORECASE` letters are spelled out ([`any_case`]).
//! * Look-around, which the `regex` crate does not have: a negative look-ahead at the end of a
//!   pattern becomes a consumed suffix that allows only what the look-ahead allows (so the
//!   leftmost-first match is the one a backtracking engine would settle on), and a negative
//!   look-behind at its start is checked on the character before the match (on failure the
//!   search moves one character on, as Python's does).
//!
//! The Unicode tables are the `regex` crate's, which can be newer than the interpreter's:
//! characters assigned since are letters or digits here and not there.

use std::cmp::Ordering::{Equal, Greater, Less};
use std::sync::OnceLock;

use regex::{Captures, Regex};
use regex_syntax::hir::{Class, HirKind};

use super::GuardError;

/// Python's `\s` on `str`: [`is_py_space`] as a regex class.
pub(crate) const PY_SPACE: &str =
    r"[\t\n\x0B\x0C\r\x1C-\x1F \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]";
/// Python's `\W` on `str`.
pub(crate) const PY_NOT_WORD: &str = r"[^\p{L}\p{N}_]";

/// Python's `str.isspace()` (and `\s`): Unicode White_Space plus U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1C}'..='\u{1F}')
}

/// A class of characters, from the `regex` crate's own Unicode tables (so a look-around
/// checked here agrees with the same class inside a pattern).
struct UnicodeClass(Vec<(char, char)>);

impl UnicodeClass {
    fn new(class: &str) -> Self {
        let ranges = match regex_syntax::parse(class).map(regex_syntax::hir::Hir::into_kind) {
            Ok(HirKind::Class(Class::Unicode(c))) => c.ranges().iter().map(|r| (r.start(), r.end())).collect(),
            _ => Vec::new(),
        };
        UnicodeClass(ranges)
    }

    fn contains(&self, c: char) -> bool {
        self.0
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    Less
                } else if lo > c {
                    Greater
                } else {
                    Equal
                }
            })
            .is_ok()
    }
}

/// Python's `str.isalnum()` on one character: a letter or a number (`\p{L}`, `\p{N}`).
pub(crate) fn is_py_alnum(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    static ALNUM: OnceLock<UnicodeClass> = OnceLock::new();
    ALNUM.get_or_init(|| UnicodeClass::new(r"[\p{L}\p{N}]")).contains(c)
}

/// Python's `\w` on one character.
pub(crate) fn is_py_word(c: char) -> bool {
    c == '_' || is_py_alnum(c)
}

fn decimals() -> &'static UnicodeClass {
    static DECIMAL: OnceLock<UnicodeClass> = OnceLock::new();
    DECIMAL.get_or_init(|| UnicodeClass::new(r"\d"))
}

/// Python's `\d` on one character (`str.isdecimal()`): a Unicode decimal digit.
pub(crate) fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    decimals().contains(c)
}

/// The bytes a decimal digit's UTF-8 can start with (ASCII digits, and the lead bytes of the
/// other scripts' digits: `→`, CJK or accented Latin letters never start one).
pub(crate) fn decimal_first_bytes() -> &'static [bool; 256] {
    static FIRST: OnceLock<[bool; 256]> = OnceLock::new();
    FIRST.get_or_init(|| {
        let mut first = [false; 256];
        for &(lo, hi) in &decimals().0 {
            for c in (u32::from(lo)..=u32::from(hi)).filter_map(char::from_u32) {
                if let Some(slot) =
                    c.encode_utf8(&mut [0; 4]).as_bytes().first().and_then(|&b| first.get_mut(usize::from(b)))
                {
                    *slot = true;
                }
            }
        }
        first
    })
}

/// A lower-case word as a pattern matching it in any case, as Python's `IGNORECASE` does
/// (`ſ` is an `s`, `ı` and `İ` are an `i`, the KELVIN SIGN is a `k`).
pub(crate) fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'i' => "[iI\u{130}\u{131}]".to_owned(),
            'k' => "[kK\u{212A}]".to_owned(),
            's' => "[sS\u{17F}]".to_owned(),
            c if c.is_ascii_lowercase() => format!("[{c}{}]", c.to_ascii_uppercase()),
            c => regex::escape(c.encode_utf8(&mut [0; 4])),
        })
        .collect()
}

/// What `(?![\w\-]|[.,]\d)` allows after a match: the end, or anything else.
pub(crate) const AHEAD_NOT_NUMBER: &str = r"(?:$|[^\p{L}\p{N}_\-.,]|[.,](?:$|\D))";

/// A Python pattern `(?<!B)BODY(?!A)`: the match is the group `m`.
pub(crate) struct PyRegex {
    regex: Regex,
    /// Characters the look-behind refuses just before a match.
    refused_before: fn(char) -> bool,
}

impl PyRegex {
    /// `body` (with Python's groups as named groups), `ahead`: the pattern of what the
    /// negative look-ahead allows after it (consumed, e.g. [`AHEAD_NOT_NUMBER`]).
    pub(crate) fn new(body: &str, ahead: &str, refused_before: fn(char) -> bool) -> Result<Self, GuardError> {
        let regex = Regex::new(&format!("(?P<m>{body}){ahead}")).map_err(GuardError::new)?;
        Ok(PyRegex { regex, refused_before })
    }

    /// Python's `finditer(text, pos, endpos)` (byte offsets): non-overlapping matches in
    /// `text[..endpos]` from `pos`, the look-behind seeing the text before `pos`. `inner` is a
    /// look-around inside the pattern, on the match's last alternative (a failure means no
    /// match at that start).
    pub(crate) fn find_iter<'t>(
        &self,
        text: &'t str,
        pos: usize,
        endpos: usize,
        inner: impl Fn(&Captures<'t>) -> bool,
    ) -> Vec<Captures<'t>> {
        let hay = text.get(..endpos).unwrap_or(text);
        let mut found = Vec::new();
        let mut at = pos;
        // `find_at` first: most searches find nothing, and captures cost an allocation.
        while let Some(caps) = self.regex.find_at(hay, at).and_then(|m| self.regex.captures_at(hay, m.start())) {
            let Some((start, end)) = caps.name("m").map(|m| (m.start(), m.end())) else { break };
            let next_char = start + hay.get(start..).and_then(|rest| rest.chars().next()).map_or(1, char::len_utf8);
            let before = text.get(..start).and_then(|head| head.chars().next_back());
            if before.is_some_and(self.refused_before) || !inner(&caps) {
                at = next_char;
                continue;
            }
            at = end.max(next_char);
            found.push(caps);
        }
        found
    }
}

/// The decimal value of a Unicode decimal digit (`\d`): digits come in runs of ten, 0 to 9.
pub(crate) fn digit_value(c: char) -> u32 {
    if let Some(d) = c.to_digit(10) {
        return d;
    }
    // Count the consecutive decimal digits before `c`: runs are whole tens from a zero.
    let code = u32::from(c);
    let before = (1..=code).take_while(|back| char::from_u32(code - back).is_some_and(is_decimal)).count();
    (before % 10) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_python_classes() {
        for c in ['\t', '\u{B}', '\u{1C}', '\u{1F}', '\u{85}', '\u{A0}', '\u{2028}', '\u{3000}'] {
            assert!(is_py_space(c), "{c:?}");
        }
        for c in ['\u{180E}', '\u{200B}', '\u{FEFF}', 'a', '\u{1B}'] {
            assert!(!is_py_space(c), "{c:?}");
        }
        // Letters and numbers of any script; not combining marks (Rust's `is_alphanumeric` says yes).
        for c in ['a', '\u{E9}', '\u{3A3}', '\u{4E00}', '\u{664}', '\u{B2}', '\u{2160}', '\u{2460}'] {
            assert!(is_py_alnum(c) && is_py_word(c), "{c:?}");
        }
        for c in ['\u{345}', '\u{93E}', '-', '\u{2192}', '\u{1F600}', ' '] {
            assert!(!is_py_alnum(c) && !is_py_word(c), "{c:?}");
        }
        assert!(is_py_word('_') && !is_py_alnum('_'));
        for c in ['7', '\u{660}', '\u{FF15}', '\u{1D7CE}'] {
            assert!(is_decimal(c), "{c:?}");
        }
        for c in ['\u{B2}', '\u{2160}', 'a', '\u{4E00}'] {
            assert!(!is_decimal(c), "{c:?}");
        }
    }

    #[test]
    fn guard_unicode_digit_values() {
        assert_eq!(
            ['0', '7', '\u{660}', '\u{669}', '\u{FF15}', '\u{1D7CE}', '\u{1D7D8}', '\u{1D7FF}'].map(digit_value),
            [0, 7, 0, 9, 5, 0, 0, 9]
        );
    }

    #[test]
    fn guard_look_around_is_emulated() {
        let card = PyRegex::new(r"\d{4}(?: \d{4})?", AHEAD_NOT_NUMBER, |c| is_py_word(c) || c == '-').unwrap();
        let spans = |text: &str, pos: usize, endpos: usize| -> Vec<String> {
            card.find_iter(text, pos, endpos, |_| true).iter().map(|c| c["m"].to_owned()).collect()
        };
        // The look-ahead picks the shorter alternative; the look-behind skips to the next start.
        assert_eq!(spans("1234 56789", 0, 10), ["1234"]);
        assert_eq!(spans("x1234 5678 -1234 1234", 0, 21), ["5678", "1234"]);
        assert_eq!(spans("1234.5", 0, 6), Vec::<String>::new());
        // `pos` and `endpos`: the look-behind sees before `pos`, the look-ahead not past `endpos`.
        assert_eq!(spans("a1234", 1, 5), Vec::<String>::new());
        assert_eq!(spans("123456", 0, 4), ["1234"]);
    }
}
