//! Secrets: `aws_access_key` (key ids, and secret keys assigned to an
//! `aws_secret_access_key`-like name; AWS documentation keys are not secrets) and
//! `private_key` (PEM private key blocks with a body of at least 40 base64 characters).

use std::collections::HashSet;
use std::sync::OnceLock;

use memchr::memmem;
use regex::Regex;

use super::super::pyre::{any_case, is_py_alnum, PyRegex, PY_SPACE};
use super::super::text::{chars_back, chars_forward};
use super::super::GuardError;
use super::Span;

const AWS_PREFIXES: &[&str] = &["AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA"];
/// The secret-key names are looked for around these (case-sensitive), 12 characters before to
/// 80 after.
const SECRET_NEEDLES: [&str; 2] = ["ecret", "ECRET"];
const SECRET_BEFORE: usize = 12;
const SECRET_AFTER: usize = 80;
/// A private key needs this many base64 characters in its body.
const MIN_KEY_BODY: usize = 40;

struct Patterns {
    key_id: PyRegex,
    secret: PyRegex,
    secret_needles: [memmem::Finder<'static>; 2],
    pem_begin: Regex,
}

impl Patterns {
    fn build() -> Result<Self, GuardError> {
        let [aws, secret, access, key] = ["aws", "secret", "access", "key"].map(any_case);
        let name = format!("{aws}_?{secret}(?:_?{access})?_?{key}|{secret}_?{access}_?{key}");
        Ok(Patterns {
            key_id: PyRegex::new(r"A[KSBCGINPR][A-Z]{2}[A-Z0-9]{16}", r"(?:$|[^A-Za-z0-9])", |_| false)?,
            secret: PyRegex::new(
                &format!(r#"(?:{name})["']?{PY_SPACE}*[:=]{PY_SPACE}*["']?(?P<key>[A-Za-z0-9/+]{{40}})"#),
                r"(?:$|[^A-Za-z0-9/+=])",
                |_| false,
            )?,
            secret_needles: SECRET_NEEDLES.map(memmem::Finder::new),
            pem_begin: Regex::new(r"-----BEGIN (?P<label>(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
                .map_err(GuardError::new)?,
        })
    }
}

fn patterns() -> Result<&'static Patterns, GuardError> {
    static PATTERNS: OnceLock<Result<Patterns, GuardError>> = OnceLock::new();
    PATTERNS.get_or_init(Patterns::build).as_ref().map_err(Clone::clone)
}

/// AWS key ids (in order), then secret keys (by needle, then by place).
pub(super) fn aws_hits(text: &str, out: &mut Vec<Span>) -> Result<(), GuardError> {
    let p = patterns()?;
    for caps in p.key_id.find_iter(text, 0, text.len(), |_| true) {
        let Some(m) = caps.name("m") else { continue };
        let bounded = !text.get(..m.start()).and_then(|h| h.chars().next_back()).is_some_and(is_py_alnum);
        let key = m.as_str();
        if bounded && AWS_PREFIXES.contains(&key.get(..4).unwrap_or_default()) && !key.ends_with("EXAMPLE") {
            out.push(("aws_access_key", m.start(), m.end()));
        }
    }
    let mut seen = HashSet::new();
    for needle in &p.secret_needles {
        for pos in needle.find_iter(text.as_bytes()) {
            let (from, to) = (chars_back(text, pos, SECRET_BEFORE), chars_forward(text, pos, SECRET_AFTER));
            for caps in p.secret.find_iter(text, from, to, |_| true) {
                let Some(key) = caps.name("key") else { continue };
                if !key.as_str().contains("EXAMPLE") && seen.insert(key.start()) {
                    out.push(("aws_access_key", key.start(), key.end()));
                }
            }
        }
    }
    Ok(())
}

fn is_body_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=:,.- \t".contains(&b)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=".contains(&b)
}

/// A body line at `pos` (header-like `Proc-Type: ...` lines included), and where it ends
/// (after its `\n`).
fn body_line(bytes: &[u8], pos: usize) -> Option<usize> {
    let rest = bytes.get(pos..)?;
    let run = rest.iter().take_while(|&&b| is_body_byte(b)).count();
    match rest.get(run..)? {
        [b'\n', ..] => Some(pos + run + 1),
        [b'\r', b'\n', ..] => Some(pos + run + 2),
        _ => None,
    }
}

/// PEM private key blocks: from `-----BEGIN ... PRIVATE KEY-----` to its END line (or to
/// where the body stops), when the body holds enough base64.
pub(super) fn private_key_hits(text: &str, out: &mut Vec<Span>) -> Result<(), GuardError> {
    if !text.contains("PRIVATE KEY") {
        return Ok(());
    }
    let p = patterns()?;
    let bytes = text.as_bytes();
    for caps in p.pem_begin.captures_iter(text) {
        let (Some(begin), Some(label)) = (caps.get(0), caps.name("label")) else { continue };
        let mut pos = begin.end();
        match bytes.get(pos..) {
            Some([b'\r', b'\n', ..]) => pos += 2,
            Some([b'\n', ..]) => pos += 1,
            _ => continue,
        }
        let end_marker = format!("-----END {}-----", label.as_str());
        let mut body = 0;
        while pos < bytes.len() {
            if bytes.get(pos..).is_some_and(|rest| rest.starts_with(end_marker.as_bytes())) {
                pos += end_marker.len();
                break;
            }
            let Some(end) = body_line(bytes, pos) else {
                // The last body line may end the text without a newline.
                let rest = bytes.get(pos..).unwrap_or_default();
                if rest.iter().all(|&b| is_base64_byte(b)) {
                    body += rest.len();
                    pos = bytes.len();
                }
                break;
            };
            body += bytes
                .get(pos..end)
                .unwrap_or_default()
                .iter()
                .filter(|&&b| b.is_ascii_alphanumeric() || b"+/".contains(&b))
                .count();
            pos = end;
        }
        if body >= MIN_KEY_BODY {
            out.push(("private_key", begin.start(), pos));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        aws_hits(text, &mut out).unwrap();
        private_key_hits(text, &mut out).unwrap();
        out.into_iter().map(|(_, a, b)| &text[a..b]).collect()
    }

    #[test]
    fn guard_aws_keys() {
        assert_eq!(
            found("id AKIAABCDEFGHIJKLMNOP, xAKIAABCDEFGHIJKLMNOP AKIAIOSFODNN7EXAMPLE"),
            ["AKIAABCDEFGHIJKLMNOP"]
        );
        let key = "abcdefghij".repeat(4);
        assert_eq!(found(&format!("aws_secret_access_\u{212A}ey = '{key}'")), [key.as_str()]);
        assert_eq!(found(&format!("AWS_SECRET_KEY: \"{key}x\"")), Vec::<&str>::new());
        // The look-ahead does not see past the window (80 characters after "ecret").
        let long = "a".repeat(100);
        assert_eq!(found(&format!("secretAccessKey={}{long}", " ".repeat(25))), [&long[..40]]);
        assert_eq!(found(&format!("secretAccessKey={}{long}", " ".repeat(24))), Vec::<&str>::new());
    }

    #[test]
    fn guard_private_keys() {
        let body = "MIIEowIBAAKCAQEA".repeat(3);
        let pem = format!("-----BEGIN RSA PRIVATE KEY-----\r\n{body}\r\n-----END RSA PRIVATE KEY-----");
        assert_eq!(found(&format!("{pem}\nrest")), [pem.as_str()]);
        let cut = format!("-----BEGIN PRIVATE KEY-----\n{body}");
        assert_eq!(found(&cut), [cut.as_str()]);
        assert_eq!(found("-----BEGIN RSA PRIVATE KEY-----\nshort\n-----END RSA PRIVATE KEY-----"), Vec::<&str>::new());
        assert_eq!(found(&format!("-----BEGIN PUBLIC KEY-----\n{body}\n")), Vec::<&str>::new());
    }
}
