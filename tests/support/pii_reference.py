"""The plain-Python PII detector that `omniroute.security.pii.find_pii` replaced (moved here
verbatim when the detector moved into the Rust core): the oracle the property tests and
`python -m bench core` compare `_core.find_pii` against. Do not "fix" it here: a change of
behaviour goes into the core, then here, with the tests that pin it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from omniroute.security.detectors import Hit

# PII ------------------------------------------------------------------------------------------

_COMMON_TLDS = frozenset(
    [
        "com",
        "org",
        "net",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "mobi",
        "aero",
        "coop",
        "jobs",
        "travel",
        "museum",
        "app",
        "dev",
        "io",
        "ai",
        "tech",
        "cloud",
        "online",
        "site",
        "xyz",
        "email",
        "company",
        "systems",
        "solutions",
        "digital",
        "global",
        "group",
        "agency",
        "studio",
        "design",
        "media",
        "news",
        "blog",
        "shop",
        "store",
        "live",
        "life",
        "world",
        "today",
        "space",
        "website",
        "network",
        "software",
        "codes",
        "engineering",
        "consulting",
        "ventures",
        "capital",
        "finance",
        "health",
        "law",
        "legal",
        "academy",
        "school",
        "university",
        "services",
        "support",
        "team",
        "work",
        "works",
        "zone",
        "email",
        "photography",
        "restaurant",
        "international",
    ]
)
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
_RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local", ".noreply.github.com")
#: Domains whose `name@domain` strings are identifiers, not mailboxes (SSH algorithm names).
_NOT_MAIL_DOMAINS = frozenset({"openssh.com", "libssh.org"})
#: Two-letter TLDs that are far more often file extensions in code (`fixture@conftest.py`).
_CODE_EXTENSIONS = frozenset({"py", "js", "ts", "md", "sh", "rb", "rs", "cs", "so"})
_NOREPLY_LOCALS = frozenset({"noreply", "no-reply", "donotreply", "do-not-reply", "mailer-daemon"})

_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-_")
_EMAIL = re.compile(
    r"(?<![\w.%+\-/@])([A-Za-z0-9](?:[A-Za-z0-9._%+\-_]{0,62}[A-Za-z0-9_%+\-])?)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))"
    r"(?![\w\-(]|\.[A-Za-z0-9])"
)


def _email_candidates(text: str) -> Iterator[re.Match[str]]:
    """Matches of `_EMAIL` found from each `@` (walking back over the local part)."""
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        m = _EMAIL.match(text, start) if start < at else None
        if m is not None:
            yield m
        at = text.find("@", m.end() if m is not None else at + 1)


def _email_hits(text: str) -> Iterator[Hit]:
    for m in _email_candidates(text):
        local, domain, tld = m.group(1).lower(), m.group(2).lower(), m.group(3).lower()
        if (len(tld) > 2 and tld not in _COMMON_TLDS) or tld in _CODE_EXTENSIONS:
            continue
        if domain in _RESERVED_DOMAINS or ("." + domain).endswith(_RESERVED_SUFFIXES):
            continue
        if domain.endswith(tuple("." + d for d in _RESERVED_DOMAINS)) or local in _NOREPLY_LOCALS:
            continue
        if domain in _NOT_MAIL_DOMAINS:
            continue
        end = m.end()
        if end < len(text) and text[end] == ":" and end + 1 < len(text) and not text[end + 1].isspace():
            continue  # scp-style remote: git@github.com:org/repo.git
        start = m.start()
        if start > 0 and text[start - 1] == ":" and text[max(0, start - 7) : start].lower() != "mailto:":
            continue  # URL credentials: scheme://user:password@host
        window = text[max(0, start - 256) : start]
        token_start = max(window.rfind(ch) for ch in " \t\n\"'<([{") + 1
        if "://" in window[token_start:]:
            continue
        yield Hit("email", start, end)


_CARD = re.compile(
    r"(?<![\w.\-+])(?:\d{13,19}|\d{4}([ \-])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ \-])\d{6}\2\d{4,5})"
    r"(?![\w\-]|[.,]\d)"
)
#: Card numbers published for testing by payment processors and card networks.
_TEST_CARDS = frozenset(
    [
        "4242424242424242",
        "4000056655665556",
        "4111111111111111",
        "4012888888881881",
        "4222222222222",
        "5555555555554444",
        "2223003122003222",
        "5200828282828210",
        "5105105105105100",
        "5431111111111111",
        "378282246310005",
        "371449635398431",
        "378734493671000",
        "6011111111111117",
        "6011000990139424",
        "6011981111111113",
        "3056930009020004",
        "36227206271667",
        "30569309025904",
        "38520000023237",
        "3566002020360505",
        "3530111333300000",
        "6200000000000005",
        "4000000000000002",
        "4000000000009995",
        "4000000000000077",
        "4000002500003155",
        "4000000000003220",
    ]
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> str | None:
    n = len(digits)
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= three <= 649) and 16 <= n <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= three <= 305 or two in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    return None


def _card_hits(text: str, pos: int, endpos: int) -> Iterator[Hit]:
    for m in _CARD.finditer(text, pos, endpos):
        digits = re.sub(r"[ \-]", "", m.group(0))
        if digits in _TEST_CARDS or len(set(digits)) < 4:
            continue
        if _card_network(digits) is not None and luhn_valid(digits):
            yield Hit("credit_card", m.start(), m.end())


_SSN = re.compile(r"(?<![\w\-.])(\d{3})-(\d{2})-(\d{4})(?![\w\-]|\.\d)")
_SSN_CONTEXT = re.compile(r"(?i:\bssn|social\s+security(?:\s+(?:number|no\.?|#))?)\W{0,4}(\d{9})(?!\d)")
_SAMPLE_SSNS = frozenset({"123456789", "078051120", "219099999"})


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    if len(set(area)) == len(set(group)) == len(set(serial)) == 1:
        return False  # 111-22-3333: a placeholder
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
        and area + group + serial not in _SAMPLE_SSNS
    )


def _ssn_hits(text: str, pos: int, endpos: int) -> Iterator[Hit]:
    for m in _SSN.finditer(text, pos, endpos):
        if _ssn_valid(m.group(1), m.group(2), m.group(3)):
            yield Hit("us_ssn", m.start(), m.end())
    for m in _SSN_CONTEXT.finditer(text, pos, endpos):
        d = m.group(1)
        if _ssn_valid(d[:3], d[3:5], d[5:]):
            yield Hit("us_ssn", m.start(1), m.end(1))


#: IBAN length per country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9])"
)
#: IBANs printed in banks' and standards' documentation.
_SAMPLE_IBANS = frozenset(
    {
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "GB29NWBK60161331926819",
        "GB33BUKB20201555555555",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "CH9300762011623852957",
    }
)


def iban_valid(iban: str) -> bool:
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _iban_hits(text: str, pos: int, endpos: int) -> Iterator[Hit]:
    for m in _IBAN.finditer(text, pos, endpos):
        iban = m.group(1).replace(" ", "")
        if iban not in _SAMPLE_IBANS and iban_valid(iban):
            yield Hit("iban", m.start(), m.end())


_NANP = re.compile(
    r"(?<![\w+\-.()])(?:(?:\+1|\b1)[ .\-]?)?(?:\(([2-9]\d\d)\)[ ]?|([2-9]\d\d)([\-.])|(?<=\+1 )([2-9]\d\d) )"
    r"([2-9]\d\d)[ .\-](\d{4})(?![\w\-]|[.,]\d)"
)
_NANP_E164 = re.compile(r"(?<![\w+])\+1([2-9]\d\d)([2-9]\d\d)(\d{4})(?![\w\-]|[.,]\d)")
_INTERNATIONAL = re.compile(
    r"(?<![\w+])\+([2-9]\d{0,2})(?:[ \-]?\(0\))?((?:[ \-]?\d){7,13})(?![\w\-]|[.,]\d)"
)


def _phone_hits(text: str, pos: int, endpos: int) -> Iterator[Hit]:
    if text.find("+", pos, endpos) >= 0:
        for m in _INTERNATIONAL.finditer(text, pos, endpos):
            digits = m.group(1) + re.sub(r"\D", "", m.group(2))
            if 10 <= len(digits) <= 15:
                yield Hit("phone", m.start(), m.end())
    for m in _NANP.finditer(text, pos, endpos):
        exchange = m.group(5)
        if m.group(3) is not None and text[m.end(5)] != m.group(3):
            continue  # 415-555.2671: mixed separators
        if exchange == "555":
            continue  # fictional numbers
        yield Hit("phone", m.start(), m.end())
    if text.find("+1", pos, endpos) >= 0:
        for m in _NANP_E164.finditer(text, pos, endpos):
            if m.group(2) != "555":
                yield Hit("phone", m.start(), m.end())


_AWS_KEY_ID = re.compile(r"A[KSBCGINPR][A-Z]{2}[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_PREFIXES = frozenset(
    {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA"}
)
_AWS_SECRET = re.compile(
    r"(?i:aws_?secret(?:_?access)?_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)


def _aws_hits(text: str) -> Iterator[Hit]:
    for m in _AWS_KEY_ID.finditer(text):
        key = m.group(0)
        bounded = m.start() == 0 or not text[m.start() - 1].isalnum()
        if bounded and key[:4] in _AWS_PREFIXES and not key.endswith("EXAMPLE"):
            yield Hit("aws_access_key", m.start(), m.end())
    seen: set[int] = set()
    for needle in ("ecret", "ECRET"):
        pos = text.find(needle)
        while pos >= 0:
            for m in _AWS_SECRET.finditer(text, max(0, pos - 12), pos + 80):
                if m.start(1) not in seen and "EXAMPLE" not in m.group(1):
                    seen.add(m.start(1))
                    yield Hit("aws_access_key", m.start(1), m.end(1))
            pos = text.find(needle, pos + 1)


_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BODY_LINE = re.compile(r"[ \t]*[A-Za-z0-9+/=:,.\- \t]*\r?\n")


def _private_key_hits(text: str) -> Iterator[Hit]:
    if "PRIVATE KEY" not in text:
        return
    for m in _PEM_BEGIN.finditer(text):
        pos = m.end()
        if text[pos : pos + 2] == "\r\n":
            pos += 2
        elif text[pos : pos + 1] == "\n":
            pos += 1
        else:
            continue
        body_chars = 0
        end_marker = f"-----END {m.group(1)}-----"
        while pos < len(text):
            if text.startswith(end_marker, pos):
                pos += len(end_marker)
                break
            line = _PEM_BODY_LINE.match(text, pos)
            if line is None or line.end() == pos:
                # The last body line may end the text without a newline.
                rest = re.match(r"[A-Za-z0-9+/=]+\Z", text[pos:])
                if rest is not None:
                    body_chars += len(rest.group(0))
                    pos = len(text)
                break
            body_chars += sum(ch.isalnum() or ch in "+/" for ch in line.group(0))
            pos = line.end()
        if body_chars >= 40:
            yield Hit("private_key", m.start(), pos)


#: A run of 9+ digits and separators: where numeric PII can be. The numeric detectors only run
#: on windows around such runs (whole-text regex scans are too slow for agent transcripts).
_NUMERIC_RUN = re.compile(r"\d[\d \-.()]{7,}\d")
_WINDOW = 40


def _numeric_windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for m in _NUMERIC_RUN.finditer(text):
        start, end = max(0, m.start() - _WINDOW), min(len(text), m.end() + _WINDOW)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def find_pii(text: str) -> list[Hit]:
    """PII and secret hits in `text`."""
    hits: list[Hit] = []
    if "@" in text:
        hits.extend(_email_hits(text))
    numeric: set[Hit] = set()
    for start, end in _numeric_windows(text):
        numeric.update(_card_hits(text, start, end))
        numeric.update(_ssn_hits(text, start, end))
        numeric.update(_iban_hits(text, start, end))
        numeric.update(_phone_hits(text, start, end))
    hits.extend(sorted(numeric))
    hits.extend(_aws_hits(text))
    hits.extend(_private_key_hits(text))
    return hits
