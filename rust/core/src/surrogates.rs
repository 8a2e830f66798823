//! Lone UTF-16 surrogate escapes in JSON text (`"\ud800"` without its low half).
//!
//! Such a string is no Unicode text: the JSON decoders and the providers refuse it, yet the
//! passthrough paths would forward it unread. The gateway refuses these bodies up front; this
//! scan is how it finds them, at memchr speed (backslashes are rare in most bodies, and the scan
//! only stops at them).
//!
//! Escapes are read left to right as a JSON parser reads them: `\\` is an escaped backslash
//! (the character after it is not an escape), a high surrogate `\uD800`-`\uDBFF` must be followed
//! at once by a low one `\uDC00`-`\uDFFF`, and a low one on its own is lone. An escape that
//! starts like a surrogate (`\uD8`) but is not four hex digits counts as lone too (it is no valid
//! escape either way).

fn is_hex(byte: u8) -> bool {
    byte.is_ascii_hexdigit()
}

/// `\u` at `at`, then `d`/`D`, then a byte in `second`, then two hex digits.
fn surrogate_escape(body: &[u8], at: usize, second: impl Fn(u8) -> bool) -> bool {
    body.get(at..at + 6).is_some_and(|e| {
        e[0] == b'\\' && e[1] == b'u' && (e[2] | 0x20) == b'd' && second(e[3]) && is_hex(e[4]) && is_hex(e[5])
    })
}

fn high(byte: u8) -> bool {
    matches!(byte | 0x20, b'8' | b'9' | b'a' | b'b')
}

fn low(byte: u8) -> bool {
    matches!(byte | 0x20, b'c' | b'd' | b'e' | b'f')
}

/// Whether JSON text `body` escapes a UTF-16 surrogate without its pair.
pub fn has_lone_surrogate(body: &[u8]) -> bool {
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'\\', &body[at..]) {
        let slash = at + found;
        match body.get(slash + 1) {
            Some(b'u') => {
                let starts_surrogate = body.get(slash + 2).is_some_and(|b| (b | 0x20) == b'd')
                    && body.get(slash + 3).is_some_and(|&b| high(b) || low(b));
                if !starts_surrogate {
                    at = slash + 2;
                } else if surrogate_escape(body, slash, high) && surrogate_escape(body, slash + 6, low) {
                    at = slash + 12; // a proper pair
                } else {
                    return true;
                }
            }
            Some(_) => at = slash + 2, // `\\`, `\"`, `\n`...: the next byte is not an escape
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_lone_surrogate as lone;

    #[test]
    fn plain_text_and_ordinary_escapes_are_fine() {
        assert!(!lone(br#"{"a":"hello \n \" \\ \u0041 \u00e9"}"#));
        assert!(!lone(b""));
        assert!(!lone(b"\\"));
        assert!(!lone(br#""\u""#));
    }

    #[test]
    fn pairs_are_fine_and_halves_are_lone() {
        assert!(!lone(br#""\ud83d\ude00""#));
        assert!(!lone(br#""\uD83D\uDE00 and \uDBFF\uDFFF""#));
        assert!(lone(br#""\ud83d""#));
        assert!(lone(br#""\ude00""#));
        assert!(lone(br#""\ud83d x \ude00""#));
        assert!(lone(br#""\ud800\ud800\udc00""#)); // the first high has no low right after it
        assert!(lone(br#""\ud83d\ude00\udc00""#));
    }

    #[test]
    fn escaped_backslashes_are_read_left_to_right() {
        assert!(!lone(br#""\\ud800""#)); // an escaped backslash, then the text "ud800"
        assert!(lone(br#""\\\ud800""#)); // an escaped backslash, then a lone escape
        assert!(!lone(br#""\\\\ud800""#));
        assert!(lone(br#""\\\\\udc00""#));
        assert!(lone(br#""\ud83d\\\ude00""#)); // a backslash between the halves: no pair
    }

    #[test]
    fn a_surrogate_looking_escape_without_four_hex_digits_is_lone() {
        assert!(lone(br#""\ud8zz""#));
        assert!(lone(b"\\uDB"));
        assert!(lone(br#""\ud83d\ude0""#));
    }
}
