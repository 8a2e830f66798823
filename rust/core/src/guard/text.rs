//! Text plumbing of the guard: invisible characters removed before matching (and hits mapped
//! back over them), byte offsets turned into Python's code-point offsets, and Python strings
//! that are not valid UTF-8 (lone surrogates).

use std::borrow::Cow;

use memchr::memchr3;

use super::Hit;

/// Whether `bytes[i..]` starts with an invisible character (U+00AD, U+200B..U+200F,
/// U+2060..U+2064, U+FEFF: they render as nothing, so "ig<ZWSP>nore" reads as "ignore"), and
/// its UTF-8 length.
fn invisible_at(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i..)? {
        [0xC2, 0xAD, ..] => Some(2),
        [0xE2, 0x80, 0x8B..=0x8F, ..] | [0xE2, 0x81, 0xA0..=0xA4, ..] | [0xEF, 0xBB, 0xBF, ..] => Some(3),
        _ => None,
    }
}

/// The text the detectors match on: the input without invisible characters, and the
/// code-point offsets (in the clean text) at which characters were removed.
pub(crate) struct Clean<'a> {
    text: Cow<'a, str>,
    removed: Vec<usize>,
}

impl<'a> Clean<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut removed = Vec::new();
        let mut kept = String::new();
        let (mut copied, mut chars, mut from) = (0, 0, 0);
        // Every invisible character starts with one of these bytes.
        while let Some(found) = memchr3(0xC2, 0xE2, 0xEF, bytes.get(from..).unwrap_or_default()) {
            let at = from + found;
            from = at + 1;
            let Some(len) = invisible_at(bytes, at) else { continue };
            let before = text.get(copied..at).unwrap_or_default();
            chars += count_chars(before.as_bytes());
            removed.push(chars);
            kept.push_str(before);
            copied = at + len;
            from = copied;
        }
        if removed.is_empty() {
            return Clean { text: Cow::Borrowed(text), removed };
        }
        kept.push_str(text.get(copied..).unwrap_or_default());
        Clean { text: Cow::Owned(kept), removed }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Hits on the clean text as spans of the original text: a hit starting where characters
    /// were removed starts after them, one ending there ends before them.
    pub(crate) fn map_back(&self, hits: &mut [Hit]) {
        if self.removed.is_empty() {
            return;
        }
        for hit in hits {
            hit.start += self.removed.partition_point(|&r| r <= hit.start);
            hit.end += self.removed.partition_point(|&r| r < hit.end);
        }
    }
}

/// Code points in UTF-8 `bytes` (the bytes that do not continue a character).
pub(crate) fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// Byte offsets into one UTF-8 text turned into code-point offsets, cheaply for offsets that
/// mostly increase (it counts on from the previous offset).
pub(crate) struct CharOffsets<'a> {
    bytes: &'a [u8],
    ascii: bool,
    byte: usize,
    chars: usize,
}

impl<'a> CharOffsets<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        CharOffsets { bytes, ascii: bytes.is_ascii(), byte: 0, chars: 0 }
    }

    pub(crate) fn at(&mut self, byte: usize) -> usize {
        if self.ascii {
            return byte;
        }
        if byte < self.byte {
            (self.byte, self.chars) = (0, 0);
        }
        self.chars += count_chars(self.bytes.get(self.byte..byte).unwrap_or_default());
        self.byte = byte;
        self.chars
    }
}

/// Spans in byte offsets of `text` as hits in code points (any order, one pass over the text).
pub(crate) fn to_hits(text: &str, spans: &[(&'static str, usize, usize)]) -> Vec<Hit> {
    if text.is_ascii() {
        return spans.iter().map(|&(kind, start, end)| Hit { kind, start, end }).collect();
    }
    let mut bytes: Vec<usize> = spans.iter().flat_map(|&(_, start, end)| [start, end]).collect();
    bytes.sort_unstable();
    bytes.dedup();
    let mut offsets = CharOffsets::new(text.as_bytes());
    let chars: Vec<usize> = bytes.iter().map(|&b| offsets.at(b)).collect();
    let char_at = |b: usize| bytes.binary_search(&b).ok().and_then(|i| chars.get(i).copied()).unwrap_or_default();
    spans.iter().map(|&(kind, start, end)| Hit { kind, start: char_at(start), end: char_at(end) }).collect()
}

/// The byte offset `n` characters before `at` (or 0).
pub(crate) fn chars_back(text: &str, at: usize, n: usize) -> usize {
    if n == 0 {
        return at;
    }
    text.get(..at).and_then(|head| head.char_indices().rev().nth(n.checked_sub(1)?)).map_or(0, |(i, _)| i)
}

/// The byte offset `n` characters after `at` (or the end).
pub(crate) fn chars_forward(text: &str, at: usize, n: usize) -> usize {
    text.get(at..).and_then(|tail| tail.char_indices().nth(n)).map_or(text.len(), |(i, _)| at + i)
}

/// A Python `str` encoded with `surrogatepass` (lone surrogates written as the three bytes
/// `ED A0..BF xx`) as a Rust string in which every lone surrogate is U+FFFD. The detectors see
/// no difference: both are one code point of three UTF-8 bytes that is not a letter, digit,
/// space or invisible character, and lower-cases to itself. `None` when the bytes are not that
/// encoding.
pub fn from_surrogatepass(bytes: &[u8]) -> Option<String> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(found) = out.get(i..).and_then(|rest| memchr::memchr(0xED, rest)) {
        let at = i + found;
        if let Some(seq @ [_, 0xA0..=0xBF, 0x80..=0xBF]) = out.get_mut(at..at + 3) {
            seq.copy_from_slice("\u{FFFD}".as_bytes());
        }
        i = at + 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(start: usize, end: usize) -> Hit {
        Hit { kind: "k", start, end }
    }

    #[test]
    fn guard_invisible_characters_are_removed_and_hits_mapped_back_over_them() {
        let clean = Clean::new("a\u{200B}b\u{AD}\u{FEFF}c\u{2064}");
        assert_eq!(clean.text(), "abc");
        assert_eq!(clean.removed, vec![1, 2, 2, 3]);
        let mut hits = [hit(0, 2), hit(1, 3), hit(2, 3)];
        clean.map_back(&mut hits);
        assert_eq!(hits, [hit(0, 3), hit(2, 6), hit(5, 6)]);
        assert!(matches!(Clean::new("caf\u{E9} \u{2192} \u{2010}").text, Cow::Borrowed(_)));
    }

    #[test]
    fn guard_offsets_count_code_points() {
        let text = "\u{E9}a\u{2192}b\u{1F600}c";
        let mut offsets = CharOffsets::new(text.as_bytes());
        assert_eq!([2, 3, 6, 7, 11, 12].map(|b| offsets.at(b)), [1, 2, 3, 4, 5, 6]);
        assert_eq!(offsets.at(0), 0);
        assert_eq!(chars_back(text, 6, 2), 2);
        assert_eq!(chars_back(text, 6, 9), 0);
        assert_eq!(chars_forward(text, 2, 2), 6);
        assert_eq!(chars_forward(text, 2, 9), text.len());
    }

    #[test]
    fn guard_lone_surrogates_become_replacement_characters_of_the_same_size() {
        assert_eq!(from_surrogatepass(b"a\xed\xa0\x80b\xed\xbf\xbf").as_deref(), Some("a\u{FFFD}b\u{FFFD}"));
        assert_eq!(from_surrogatepass("\u{D7FF}\u{E000}".as_bytes()).as_deref(), Some("\u{D7FF}\u{E000}"));
        assert_eq!(from_surrogatepass(b"\xff"), None);
    }
}
