"""The prompt guard's PII detector in the core (`_core.find_pii`, behind `pii.find_pii`) finds
exactly what the plain-Python detector it replaced finds (tests/support/pii_reference.py): same
kinds, spans and order.

Texts are built from what the detectors react to, valid and almost valid: email addresses on
every kind of domain with the characters that may or may not stand around them, card numbers
that pass Luhn for each network (grouped or not, test numbers included), SSNs with and without
"SSN" before them, IBANs with their real checksum, phone numbers in every written form, AWS key
ids and secret-key assignments, PEM private keys, and Unicode digits, letters and spaces where
Python's `\\d`, `\\w` and `\\s` differ from ASCII ones. Generated characters are those the
interpreter's Unicode database assigns (the core's tables can be newer).
"""

from __future__ import annotations

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from omniroute.security.detectors import PII_KINDS
from omniroute.security.pii import find_pii
from tests.support import pii_reference

assigned = st.characters(exclude_categories=("Cs", "Cn"))
digit = st.sampled_from("0123456789")
# Decimal digits of other scripts: Arabic-Indic, Devanagari, fullwidth, mathematical bold.
unicode_digit = st.sampled_from(("\u0660", "\u0664", "\u0969", "\uff15", "\U0001d7d7", "\u0e53"))


def digits(n: int) -> st.SearchStrategy[str]:
    return st.lists(digit, min_size=n, max_size=n).map("".join)


def luhn_complete(body: str) -> str:
    """`body` plus the digit that makes it pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


CARD_PREFIXES = (
    ("4", 16),
    ("4", 13),
    ("4", 19),
    ("51", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
)
CARD_PREFIXES += (("65", 17), ("645", 19), ("3530", 16), ("300", 14), ("36", 14), ("62", 18), ("9", 16))


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix, n = draw(st.sampled_from(CARD_PREFIXES))
    number = luhn_complete(prefix + draw(digits(n - len(prefix) - 1)))
    if draw(st.integers(0, 5)) == 0:
        number = draw(st.sampled_from(sorted(pii_reference._TEST_CARDS)))
    sep = draw(st.sampled_from(("", " ", "-", " -")))
    if sep and len(number) in (15, 16, 19) and draw(st.booleans()):
        groups = (
            [number[:4], number[4:10], number[10:]]
            if len(number) == 15
            else [number[i : i + 4] for i in range(0, len(number), 4)]
        )
        number = "".join(g + (sep[i % len(sep)] if i < len(groups) - 1 else "") for i, g in enumerate(groups))
    return number


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, length = draw(st.sampled_from(sorted(pii_reference._IBAN_LENGTHS.items())))
    alphabet = st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    bban = "".join(draw(st.lists(alphabet, min_size=length - 4, max_size=length - 4)))
    numeric = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    iban = f"{country}{98 - numeric % 97:02d}{bban}"
    if draw(st.integers(0, 4)) == 0:
        iban = draw(st.sampled_from(sorted(pii_reference._SAMPLE_IBANS)))
    if draw(st.booleans()):
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


area = st.sampled_from(("415", "212", "555", "200", "999", "067", "1"))
exchange = st.sampled_from(("867", "555", "234", "067"))
phones = st.one_of(
    st.builds(lambda a, e, n: f"({a}) {e}-{n}", area, exchange, digits(4)),
    st.builds(
        lambda a, e, n, s, t: f"{a}{s}{e}{t}{n}", area, exchange, digits(4), *[st.sampled_from("-. ")] * 2
    ),
    st.builds(
        lambda p, a, e, n: f"{p}{a} {e} {n}",
        st.sampled_from(("+1 ", "1 ", "+1", "+1-", "1.")),
        area,
        exchange,
        digits(4),
    ),
    st.builds(lambda a, e, n: f"+1{a}{e}{n}", area, exchange, digits(4)),
    st.builds(lambda cc, n: f"+{cc} {n}", st.sampled_from(("44", "33", "49", "353", "1", "0")), digits(9)),
    st.builds(lambda n: f"+44 (0)20 {n[:4]} {n[4:]}", digits(8)),
    st.builds(lambda n: f"+33-1-{n}", digits(8)),
)
ssns = st.one_of(
    st.builds(lambda a, g, s: f"{a}-{g}-{s}", digits(3), digits(2), digits(4)),
    st.sampled_from(
        ("123-45-6789", "078-05-1120", "111-22-3333", "536-22-0000", "900-12-3456", "536-12-3456")
    ),
    st.builds(
        lambda name, sep, d: f"{name}{sep}{d}",
        st.sampled_from(
            (
                "SSN",
                "ssn",
                "xssn",
                "\u017fsn",
                "Social Security Number",
                "social  security no.",
                "SOCIAL SECURITY #",
            )
        ),
        st.sampled_from(("", ":", ": ", " #", "\u3000", "(:)", "-----")),
        digits(9),
    ),
)
local = st.sampled_from(
    ("jane.doe", "a", "x_y", "noreply", "No-Reply", ".dot", "dot.", "a+tag", "%", "git", "u" * 70)
)
domain = st.sampled_from(
    (
        "acme-corp.com", "mail.acme.io", "example.com", "sub.example.org", "corp.example", "build.test",
        "localhost", "host.local", "users.noreply.github.com", "openssh.com", "conftest.py", "self.weight",
        "acme.c0m", "a.b.c.museum", "acme.toolongtopleveldomainnameabcd", "-bad.com", "bad-.com", "acme.com.",
        "acme.com.x", "acme.com.-x", "x.co.uk", "acme.COM", "a" * 64 + ".com",
    )
)  # fmt: skip
emails = st.builds(
    lambda before, loc, dom, after: f"{before}{loc}@{dom}{after}",
    st.sampled_from(
        ("", " ", "mailto:", "MAILTO:", "x:", "https://", "http://user:", "<", "/", "\u00e9", ".", "'")
    ),
    local,
    domain,
    st.sampled_from(("", " ", ":", ":org/repo.git", ": x", "(", "-", ".x", ".", "\u00e9", "_", ">", ",")),
)
upper = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
aws = st.one_of(
    st.builds(
        lambda p, rest: p + rest,
        st.sampled_from(("AKIA", "ASIA", "AROA", "AXYZ", "xAKIA", "\u00e9AKIA")),
        st.lists(upper, min_size=16, max_size=17).map("".join) | st.just("IOSFODNN7EXAMPLE"),
    ),
    st.builds(
        lambda name, eq, key: f"{name}{eq}{key}",
        st.sampled_from(
            ("aws_secret_access_key", "AWS_SECRET_KEY", "secretAccessKey", "aws_secret_access_\u212aey")
        ),
        st.sampled_from((" = ", "=", ': "', "\t:\t'", " -> ")),
        st.lists(st.sampled_from("abcXYZ019/+"), min_size=38, max_size=46).map("".join),
    ),
)
base64_line = st.lists(st.sampled_from("ABCabc0189+/="), min_size=0, max_size=64).map("".join)
pem = st.builds(
    lambda label, eol, lines, end: f"-----BEGIN {label}-----{eol}" + eol.join(lines) + end,
    st.sampled_from(
        ("RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY BLOCK", "PUBLIC KEY")
    ),
    st.sampled_from(("\n", "\r\n", "")),
    st.lists(base64_line | st.just("Proc-Type: 4,ENCRYPTED"), max_size=4),
    st.sampled_from(("\n-----END RSA PRIVATE KEY-----", "\n-----END PRIVATE KEY-----", "", "\n", "\n!")),
)
separators = st.sampled_from(
    (" ", "\n", "\t", ", ", ".", "-", "+", "(", ")", "\u3000", "\xa0", "\x1c", "x", "_")
)
tokens = st.one_of(
    cards(),
    ibans(),
    phones,
    ssns,
    emails,
    aws,
    pem,
    separators,
    digit,
    unicode_digit,
    st.text(assigned, max_size=6),
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(tokens, max_size=12))
    text = "".join(parts)
    # Now and then, some ASCII digits become digits of another script.
    if text and draw(st.integers(0, 3)) == 0:
        chars = list(text)
        for i in draw(st.lists(st.integers(0, len(chars) - 1), max_size=4)):
            if chars[i] in "0123456789":  # str.isdigit() is also true of "²", which int() refuses
                chars[i] = chr(0x0660 + int(chars[i]))
        text = "".join(chars)
    return text


@settings(max_examples=1500, deadline=None)
@given(texts())
def test_pii_hits_equal_the_reference(text: str) -> None:
    assert find_pii(text) == pii_reference.find_pii(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(tokens | st.text(st.characters(categories=("Cs",)), min_size=1, max_size=2), max_size=12))
def test_lone_surrogates_give_the_reference_hits(parts: list[str]) -> None:
    text = "".join(parts)
    assert find_pii(text) == pii_reference.find_pii(text)


@pytest.mark.parametrize("kind", PII_KINDS)
def test_generated_texts_reach_every_kind(kind: str) -> None:
    """The tokens of the texts above hold hits of every kind (else the equality would prove little)."""
    source = {
        "email": emails,
        "credit_card": cards(),
        "us_ssn": ssns,
        "iban": ibans(),
        "phone": phones,
        "aws_access_key": aws,
        "private_key": pem,
    }[kind]

    def has_kind(text: str) -> bool:
        return any(h.kind == kind for h in pii_reference.find_pii(text))

    find(source, has_kind, settings=settings(max_examples=1000, database=None, deadline=None))
