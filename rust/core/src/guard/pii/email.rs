//! `email`: addresses on real-looking domains (see detectors.py for what is not PII).
//!
//! The address pattern of the Python detector, matched by hand from each `@`: walk back over
//! up to 64 local-part characters, then the pattern anchored there,
//! `(?<![\w.%+\-/@])LOCAL@(?:LABEL\.)+([A-Za-z]{2,24})(?![\w\-(]|\.[A-Za-z0-9])`, with the
//! backtracking over the number of domain labels a regex engine would do.

use memchr::{memchr, memmem};

use super::super::pyre::{is_py_space, is_py_word};
use super::Span;

#[rustfmt::skip]
const COMMON_TLDS: &[&str] = &[
    "academy", "aero", "agency", "ai", "app", "biz", "blog", "capital", "cloud", "codes", "com", "company",
    "consulting", "coop", "design", "dev", "digital", "edu", "email", "engineering", "finance", "global", "gov",
    "group", "health", "info", "int", "international", "io", "jobs", "law", "legal", "life", "live", "media", "mil",
    "mobi", "museum", "name", "net", "network", "news", "online", "org", "photography", "pro", "restaurant", "school",
    "services", "shop", "site", "software", "solutions", "space", "store", "studio", "support", "systems", "team",
    "tech", "today", "travel", "university", "ventures", "website", "work", "works", "world", "xyz", "zone",
];
const RESERVED_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
const RESERVED_SUFFIXES: &[&str] = &[".example", ".test", ".invalid", ".localhost", ".local", ".noreply.github.com"];
/// Domains whose `name@domain` strings are identifiers, not mailboxes (SSH algorithm names).
const NOT_MAIL_DOMAINS: &[&str] = &["openssh.com", "libssh.org"];
/// Two-letter TLDs that are far more often file extensions in code (`fixture@conftest.py`).
const CODE_EXTENSIONS: &[&str] = &["py", "js", "ts", "md", "sh", "rb", "rs", "cs", "so"];
const NOREPLY_LOCALS: &[&str] = &["noreply", "no-reply", "donotreply", "do-not-reply", "mailer-daemon"];
/// How far back (in characters) a URL scheme makes `user@host` a URL credential.
const URL_LOOKBACK: usize = 256;

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// One address: byte offsets of its start, its `@`, its TLD and its end.
struct Address {
    start: usize,
    at: usize,
    tld: usize,
    end: usize,
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|head| head.chars().next_back())
}

/// The address pattern anchored at `start` (the local part runs to the `@` at `at`).
fn address_at(text: &str, start: usize, at: usize) -> Option<Address> {
    let bytes = text.as_bytes();
    if char_before(text, start).is_some_and(|c| is_py_word(c) || ".%+-/@".contains(c)) {
        return None;
    }
    let local = bytes.get(start..at)?;
    let (first, last) = (*local.first()?, *local.last()?);
    if !first.is_ascii_alphanumeric() || local.len() > 1 && !(last.is_ascii_alphanumeric() || b"_%+-".contains(&last)) {
        return None;
    }
    // `(?:LABEL\.)+` takes as many labels as it can, then gives them back one by one.
    let mut dots = Vec::new();
    let mut label = at + 1;
    loop {
        let len = bytes.get(label..)?.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
        let valid = (1..=63).contains(&len)
            && bytes.get(label).is_some_and(u8::is_ascii_alphanumeric)
            && bytes.get(label + len - 1).is_some_and(u8::is_ascii_alphanumeric);
        if !valid || bytes.get(label + len) != Some(&b'.') {
            break;
        }
        dots.push(label + len);
        label += len + 1;
    }
    dots.iter().rev().find_map(|&dot| {
        let tld = dot + 1;
        let len = bytes.get(tld..)?.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let end = tld + len;
        ((2..=24).contains(&len) && allowed_after(text, end)).then_some(Address { start, at, tld, end })
    })
}

/// `(?![\w\-(]|\.[A-Za-z0-9])` at `end`.
fn allowed_after(text: &str, end: usize) -> bool {
    match text.get(end..).and_then(|rest| rest.chars().next()) {
        None => true,
        Some('.') => !text.as_bytes().get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
        Some(c) => !(is_py_word(c) || c == '-' || c == '('),
    }
}

/// Whether a found address is documentation, an identifier, an SCP remote or a URL credential.
fn not_a_mailbox(text: &str, a: &Address) -> bool {
    let lower = |from: usize, to: usize| text.get(from..to).unwrap_or_default().to_ascii_lowercase();
    let (local, domain, tld) = (lower(a.start, a.at), lower(a.at + 1, a.end), lower(a.tld, a.end));
    if tld.len() > 2 && !COMMON_TLDS.contains(&tld.as_str()) || CODE_EXTENSIONS.contains(&tld.as_str()) {
        return true;
    }
    let dotted = format!(".{domain}");
    if RESERVED_DOMAINS.contains(&domain.as_str()) || RESERVED_SUFFIXES.iter().any(|s| dotted.ends_with(s)) {
        return true;
    }
    if RESERVED_DOMAINS.iter().any(|d| domain.ends_with(&format!(".{d}"))) || NOREPLY_LOCALS.contains(&local.as_str()) {
        return true;
    }
    if NOT_MAIL_DOMAINS.contains(&domain.as_str()) {
        return true;
    }
    // scp-style remote: git@github.com:org/repo.git
    let mut after = text.get(a.end..).unwrap_or_default().chars();
    if after.next() == Some(':') && after.next().is_some_and(|c| !is_py_space(c)) {
        return true;
    }
    // URL credentials: scheme://user:password@host
    if char_before(text, a.start) == Some(':') {
        let before: String = text.get(..a.start).unwrap_or_default().chars().rev().take(7).collect();
        if !before.eq_ignore_ascii_case(":otliam") {
            return true;
        }
    }
    let window = text.get(super::super::text::chars_back(text, a.start, URL_LOOKBACK)..a.start).unwrap_or_default();
    let token_start = window.rfind([' ', '\t', '\n', '"', '\'', '<', '(', '[', '{']).map_or(0, |i| i + 1);
    memmem::find(window.as_bytes().get(token_start..).unwrap_or_default(), b"://").is_some()
}

/// Email hits, in order.
pub(super) fn email_hits(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = memchr(b'@', bytes.get(from..).unwrap_or_default()) {
        let at = from + found;
        let mut start = at;
        while start > 0 && at - start < 64 && bytes.get(start - 1).copied().is_some_and(is_local_byte) {
            start -= 1;
        }
        match (start < at).then(|| address_at(text, start, at)).flatten() {
            Some(address) => {
                if !not_a_mailbox(text, &address) {
                    out.push(("email", address.start, address.end));
                }
                from = address.end;
            }
            None => from = at + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        email_hits(text, &mut out);
        out.into_iter().map(|(_, a, b)| &text[a..b]).collect()
    }

    #[test]
    fn guard_addresses_take_the_regex_backtracking() {
        assert_eq!(found("mail jane.doe@acme-corp.com."), ["jane.doe@acme-corp.com"]);
        // Fewer labels when the last one is followed by a dot and no letter or digit.
        assert_eq!(found("jane@acme.com.-x jane@acme.com.x"), ["jane@acme.com"]);
        assert_eq!(found(".jane@acme.com dot.@acme.com \u{E9}jane@acme.com jane@acme.com_"), Vec::<&str>::new());
        assert_eq!(found("a@b.c.museum b@acme.toolongtopleveldomainnameabcd"), ["a@b.c.museum"]);
        // At most 64 characters of local part: a longer run is not an address.
        let local = "x".repeat(63);
        assert_eq!(found(&format!("{local}@acme.com")), [format!("{local}@acme.com")]);
        assert_eq!(found(&format!("{local}xx@acme.com")), Vec::<&str>::new());
    }

    #[test]
    fn guard_documentation_and_code_addresses_are_not_mailboxes() {
        let text = "user@example.com a@corp.example noreply@acme.com x@self.weight f@conftest.py \
                    aes256-gcm@openssh.com git@github.com:org/repo https://u@acme.com http://u:p@acme.com";
        assert_eq!(found(text), Vec::<&str>::new());
        assert_eq!(found("MailTo:jane@acme.com, git@github.com: done"), ["jane@acme.com", "git@github.com"]);
    }
}
