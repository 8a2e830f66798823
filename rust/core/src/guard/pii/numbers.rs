//! The numeric detectors: `credit_card` (network prefix, Luhn, not a test number), `us_ssn`
//! (valid parts, or nine digits after "SSN"), `iban` (country length, mod-97 checksum) and
//! `phone` (international and NANP). They run only on the windows around runs of digits.
//!
//! `\d` is any Unicode decimal digit, as in the Python detector, whose arithmetic is kept
//! as it is: `int()` reads such digits by value, the Luhn sum takes `ord(c) - 48`.

use std::sync::OnceLock;

use regex::Captures;

use super::super::pyre::{any_case, digit_value, is_py_word, PyRegex, AHEAD_NOT_NUMBER, PY_NOT_WORD, PY_SPACE};
use super::super::GuardError;
use super::Span;

/// Card numbers published for testing by payment processors and card networks.
#[rustfmt::skip]
const TEST_CARDS: &[&str] = &[
    "2223003122003222", "3056930009020004", "30569309025904", "3530111333300000", "3566002020360505",
    "36227206271667", "371449635398431", "378282246310005", "378734493671000", "38520000023237",
    "4000000000000002", "4000000000000077", "4000000000003220", "4000000000009995", "4000002500003155",
    "4000056655665556", "4012888888881881", "4111111111111111", "4222222222222", "4242424242424242",
    "5105105105105100", "5200828282828210", "5431111111111111", "5555555555554444", "6011000990139424",
    "6011111111111117", "6011981111111113", "6200000000000005",
];
const SAMPLE_SSNS: &[&str] = &["123456789", "078051120", "219099999"];
/// IBAN length per country (ISO 13616 registry).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16), ("BG", 22), ("BH", 22),
    ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22), ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18), ("DO", 28),
    ("EE", 20), ("EG", 29), ("ES", 24), ("FI", 18), ("FO", 18), ("FR", 27), ("GB", 22), ("GE", 22), ("GI", 23),
    ("GL", 18), ("GR", 27), ("GT", 28), ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26),
    ("IT", 27), ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32), ("LI", 21), ("LT", 20), ("LU", 20),
    ("LV", 21), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MR", 27), ("MT", 31), ("MU", 30), ("NL", 18),
    ("NO", 15), ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22), ("SA", 24),
    ("SC", 31), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27), ("ST", 25), ("SV", 28), ("TL", 23), ("TN", 24),
    ("TR", 26), ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20),
];
/// IBANs printed in banks' and standards' documentation.
const SAMPLE_IBANS: &[&str] = &[
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "GB29NWBK60161331926819",
    "GB33BUKB20201555555555",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
];
/// The area code alternatives of a NANP number (`(415) `, `415-` / `415.`, and `415 ` after
/// "+1 "), with groups numbered `i` (one set per prefix branch: group names must be unique).
fn nanp_area(i: usize, after_plus_one_space: bool) -> String {
    let mut area = format!(r"\((?P<paren{i}>[2-9]\d\d)\)[ ]?|(?P<area{i}>[2-9]\d\d)(?P<sep{i}>[\-.])");
    if after_plus_one_space {
        area.push_str(&format!(r"|(?P<after{i}>[2-9]\d\d) "));
    }
    area
}
/// Prefix branches of the NANP pattern, in the order a backtracking engine tries them:
/// `+1` or `1` with a separator, then without, then none. `(?<=\+1 )` before the third area
/// form holds after the prefix "+1 " (branch 0), never after the others, and outside the
/// match on the last branch, which `Patterns::nanp`'s caller checks.
const NANP_PREFIXES: [(&str, bool); 6] =
    [(r"\+1[ ]", true), (r"\+1[.\-]", false), (r"\+1", false), (r"1[ .\-]", false), ("1", false), ("", false)];
const NANP_BRANCHES: usize = NANP_PREFIXES.len();

struct Patterns {
    card: PyRegex,
    ssn: PyRegex,
    ssn_context: PyRegex,
    iban: PyRegex,
    international: PyRegex,
    nanp: PyRegex,
    nanp_e164: PyRegex,
}

impl Patterns {
    fn build() -> Result<Self, GuardError> {
        let card = r"\d{13,19}|\d{4} \d{4} \d{4} \d{4}(?: \d{3})?|\d{4}-\d{4}-\d{4}-\d{4}(?:-\d{3})?|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5}";
        let social = format!(
            r"(?P<ssn>{ssn})|{social}{PY_SPACE}+{security}(?:{PY_SPACE}+(?:{number}|{no}\.?|#))?",
            ssn = any_case("ssn"),
            social = any_case("social"),
            security = any_case("security"),
            number = any_case("number"),
            no = any_case("no"),
        );
        let nanp: Vec<String> = NANP_PREFIXES
            .iter()
            .enumerate()
            .map(|(i, (prefix, after))| format!("{prefix}(?:{})", nanp_area(i, *after)))
            .chain([r"(?P<outside>[2-9]\d\d) ".to_owned()])
            .collect();
        Ok(Patterns {
            card: PyRegex::new(card, AHEAD_NOT_NUMBER, |c| is_py_word(c) || ".-+".contains(c))?,
            ssn: PyRegex::new(
                r"(?P<area>\d{3})-(?P<group>\d{2})-(?P<serial>\d{4})",
                r"(?:$|[^\p{L}\p{N}_\-.]|\.(?:$|\D))",
                |c| is_py_word(c) || "-.".contains(c),
            )?,
            ssn_context: PyRegex::new(
                &format!(r"(?:{social}){PY_NOT_WORD}{{0,4}}(?P<d>\d{{9}})"),
                r"(?:$|\D)",
                |_| false,
            )?,
            iban: PyRegex::new(
                r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?",
                r"(?:$|[^A-Za-z0-9])",
                |c| c.is_ascii_alphanumeric(),
            )?,
            international: PyRegex::new(
                r"\+(?P<country>[2-9]\d{0,2})(?:[ \-]?\(0\))?(?P<number>(?:[ \-]?\d){7,13})",
                AHEAD_NOT_NUMBER,
                |c| is_py_word(c) || c == '+',
            )?,
            nanp: PyRegex::new(
                &format!(r"(?:{})(?P<exchange>[2-9]\d\d)[ .\-]\d{{4}}", nanp.join("|")),
                AHEAD_NOT_NUMBER,
                |c| is_py_word(c) || "+-.()".contains(c),
            )?,
            nanp_e164: PyRegex::new(r"\+1[2-9]\d\d(?P<exchange>[2-9]\d\d)\d{4}", AHEAD_NOT_NUMBER, |c| {
                is_py_word(c) || c == '+'
            })?,
        })
    }
}

fn patterns() -> Result<&'static Patterns, GuardError> {
    static PATTERNS: OnceLock<Result<Patterns, GuardError>> = OnceLock::new();
    PATTERNS.get_or_init(Patterns::build).as_ref().map_err(Clone::clone)
}

fn span(caps: &Captures<'_>, group: &str) -> Option<(usize, usize)> {
    caps.name(group).map(|m| (m.start(), m.end()))
}

/// `int(digits)` of the first `n` digits.
fn leading_value(digits: &[char], n: usize) -> u32 {
    digits.iter().take(n).fold(0, |acc, &c| acc * 10 + digit_value(c))
}

fn card_network(digits: &[char]) -> Option<&'static str> {
    let n = digits.len();
    let (two, three, four) = (leading_value(digits, 2), leading_value(digits, 3), leading_value(digits, 4));
    if digits.first() == Some(&'4') && [13, 16, 19].contains(&n) {
        return Some("visa");
    }
    if ((51..=55).contains(&two) || (2221..=2720).contains(&four)) && n == 16 {
        return Some("mastercard");
    }
    if (two == 34 || two == 37) && n == 15 {
        return Some("amex");
    }
    let long = (16..=19).contains(&n);
    if (four == 6011 || two == 65 || (644..=649).contains(&three)) && long {
        return Some("discover");
    }
    if (3528..=3589).contains(&four) && long {
        return Some("jcb");
    }
    if ((300..=305).contains(&three) || [36, 38, 39].contains(&two)) && (14..=19).contains(&n) {
        return Some("diners");
    }
    (two == 62 && long).then_some("unionpay")
}

/// The Luhn check as the Python detector computes it (`ord(c) - 48` per character).
fn luhn_valid(digits: &[char]) -> bool {
    let total: i64 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let d = i64::from(u32::from(c)) - 48;
            match (i % 2 == 1, d > 4) {
                (true, true) => d * 2 - 9,
                (true, false) => d * 2,
                (false, _) => d,
            }
        })
        .sum();
    total.rem_euclid(10) == 0
}

fn distinct(chars: &[char]) -> usize {
    let mut seen: Vec<char> = chars.to_vec();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

fn card_hits(p: &Patterns, text: &str, pos: usize, endpos: usize, out: &mut Vec<Span>) {
    for caps in p.card.find_iter(text, pos, endpos, |_| true) {
        let Some((start, end)) = span(&caps, "m") else { continue };
        let digits: Vec<char> = caps["m"].chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let plain: String = digits.iter().collect();
        if TEST_CARDS.contains(&plain.as_str()) || distinct(&digits) < 4 {
            continue;
        }
        if card_network(&digits).is_some() && luhn_valid(&digits) {
            out.push(("credit_card", start, end));
        }
    }
}

fn ssn_valid(area: &str, group: &str, serial: &str) -> bool {
    let one_digit = |s: &str| s.chars().all(|c| s.starts_with(c));
    if one_digit(area) && one_digit(group) && one_digit(serial) {
        return false; // 111-22-3333: a placeholder
    }
    !["000", "666"].contains(&area)
        && !area.starts_with('9')
        && group != "00"
        && serial != "0000"
        && !SAMPLE_SSNS.contains(&format!("{area}{group}{serial}").as_str())
}

fn ssn_hits(p: &Patterns, text: &str, pos: usize, endpos: usize, out: &mut Vec<Span>) {
    for caps in p.ssn.find_iter(text, pos, endpos, |_| true) {
        if let Some((start, end)) =
            span(&caps, "m").filter(|_| ssn_valid(&caps["area"], &caps["group"], &caps["serial"]))
        {
            out.push(("us_ssn", start, end));
        }
    }
    // `\bssn`: the word boundary before "ssn" (its first letter is a word character).
    let boundary = |caps: &Captures<'_>| {
        span(caps, "ssn")
            .is_none_or(|(start, _)| !text.get(..start).and_then(|h| h.chars().next_back()).is_some_and(is_py_word))
    };
    for caps in p.ssn_context.find_iter(text, pos, endpos, boundary) {
        let Some((start, end)) = span(&caps, "d") else { continue };
        let d = &caps["d"];
        let cut: Vec<usize> = d.char_indices().map(|(i, _)| i).chain([d.len()]).collect();
        let part = |a: usize, b: usize| cut.get(a).zip(cut.get(b)).and_then(|(&a, &b)| d.get(a..b)).unwrap_or_default();
        if ssn_valid(part(0, 3), part(3, 5), part(5, 9)) {
            out.push(("us_ssn", start, end));
        }
    }
}

/// Length per country, mod-97 checksum over the digits and letters (A = 10 ... Z = 35).
fn iban_valid(iban: &[char]) -> bool {
    let country: String = iban.iter().take(2).collect();
    if IBAN_LENGTHS.iter().find(|(c, _)| *c == country).map(|(_, len)| *len) != Some(iban.len()) {
        return false;
    }
    // The check digits are decimal digits: the pattern says `\d{2}`.
    let rearranged = iban.iter().skip(4).chain(iban.iter().take(4));
    let remainder = rearranged.fold(0u32, |acc, &c| {
        if c.is_ascii_uppercase() {
            (acc * 100 + (u32::from(c) - u32::from('A') + 10)) % 97
        } else {
            (acc * 10 + digit_value(c)) % 97
        }
    });
    remainder == 1
}

fn iban_hits(p: &Patterns, text: &str, pos: usize, endpos: usize, out: &mut Vec<Span>) {
    for caps in p.iban.find_iter(text, pos, endpos, |_| true) {
        let Some((start, end)) = span(&caps, "m") else { continue };
        let iban: Vec<char> = caps["m"].chars().filter(|&c| c != ' ').collect();
        let plain: String = iban.iter().collect();
        if !SAMPLE_IBANS.contains(&plain.as_str()) && iban_valid(&iban) {
            out.push(("iban", start, end));
        }
    }
}

fn phone_hits(p: &Patterns, text: &str, pos: usize, endpos: usize, out: &mut Vec<Span>) {
    for caps in p.international.find_iter(text, pos, endpos, |_| true) {
        let Some((start, end)) = span(&caps, "m") else { continue };
        // The number group holds decimal digits, spaces and dashes.
        let digits =
            caps["country"].chars().count() + caps["number"].chars().filter(|c| !matches!(c, ' ' | '-')).count();
        if (10..=15).contains(&digits) {
            out.push(("phone", start, end));
        }
    }
    // `(?<=\+1 )` before an area code with no prefix: outside the match.
    let after_plus_one = |caps: &Captures<'_>| {
        span(caps, "outside").is_none_or(|(start, _)| text.get(..start).is_some_and(|h| h.ends_with("+1 ")))
    };
    for caps in p.nanp.find_iter(text, pos, endpos, after_plus_one) {
        let (Some((start, end)), Some((_, exchange_end))) = (span(&caps, "m"), span(&caps, "exchange")) else {
            continue;
        };
        let sep = (0..NANP_BRANCHES).find_map(|i| caps.name(&format!("sep{i}")));
        let after_exchange = text.get(exchange_end..).and_then(|rest| rest.chars().next());
        if sep.is_some_and(|sep| sep.as_str().chars().next() != after_exchange) {
            continue; // 415-555.2671: mixed separators
        }
        if &caps["exchange"] == "555" {
            continue; // fictional numbers
        }
        out.push(("phone", start, end));
    }
    for caps in p.nanp_e164.find_iter(text, pos, endpos, |_| true) {
        if let Some((start, end)) = span(&caps, "m").filter(|_| &caps["exchange"] != "555") {
            out.push(("phone", start, end));
        }
    }
}

/// Numeric hits in the window `pos..endpos` (bytes) of `text`.
pub(super) fn numeric_hits(text: &str, pos: usize, endpos: usize, out: &mut Vec<Span>) -> Result<(), GuardError> {
    let p = patterns()?;
    card_hits(p, text, pos, endpos, out);
    ssn_hits(p, text, pos, endpos, out);
    iban_hits(p, text, pos, endpos, out);
    phone_hits(p, text, pos, endpos, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        numeric_hits(text, 0, text.len(), &mut out).unwrap();
        out.into_iter().map(|(kind, a, b)| (kind, &text[a..b])).collect()
    }

    #[test]
    fn guard_cards_follow_the_python_arithmetic() {
        assert_eq!(found("card 4539 1488 0343 6467."), [("credit_card", "4539 1488 0343 6467")]);
        assert_eq!(found("4539-1488-0343-6467-123x 4539 1488-0343-6467"), []);
        assert_eq!(found("4242424242424242 v1.4539148803436467 4539148803436467,5"), []);
        // Digits of other scripts are digits; the Luhn sum takes their code points as Python's did.
        assert_eq!(luhn_valid(&['\u{664}', '\u{664}']), (3 * (0x664 - 48) - 9) % 10 == 0);
        assert_eq!(card_network(&"\u{664}539148803436467".chars().collect::<Vec<_>>()), None);
        assert_eq!(leading_value(&['\u{665}', '\u{661}'], 2), 51);
    }

    #[test]
    fn guard_ssns_need_valid_parts_or_the_word_before() {
        assert_eq!(found("ssn 536-22-1234 and 666-22-1234"), [("us_ssn", "536-22-1234")]);
        assert_eq!(
            found("SSN: 536221234, \u{17F}\u{17F}n 536221235"),
            [("us_ssn", "536221234"), ("us_ssn", "536221235")]
        );
        assert_eq!(found("xssn 536221234 social  security no.536221236"), [("us_ssn", "536221236")]);
    }

    #[test]
    fn guard_ibans_check_length_and_checksum() {
        assert_eq!(found("DE44 5001 0517 5407 3249 31"), [("iban", "DE44 5001 0517 5407 3249 31")]);
        assert_eq!(found("DE44500105175407324932 DE89370400440532013000"), []);
        assert!(iban_valid(&"DE\u{664}\u{664}500105175407324931".chars().collect::<Vec<_>>()));
    }

    #[test]
    fn guard_phones_take_the_python_alternatives() {
        assert_eq!(found("x+1 415 867 2671"), [("phone", "415 867 2671")]);
        assert_eq!(found("+1 415 867 2671"), [("phone", "+1 415 867 2671")]);
        assert_eq!(found("+1415 867 2671 1 415 867 2671"), []);
        assert_eq!(found("415-867.2671 415.867.2671"), [("phone", "415.867.2671")]);
        assert_eq!(found("(415) 555-2671 +14155552671 +14158672671"), [("phone", "+14158672671")]);
        assert_eq!(found("+44 (0)20 7946 0958"), [("phone", "+44 (0)20 7946 0958")]);
    }
}
