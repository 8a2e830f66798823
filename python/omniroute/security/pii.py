"""PII and secret detectors of the prompt guard, and redaction (split from detectors.py, which
holds the injection detectors, the shared `Hit` type and the module documentation of both).

Kinds: email, credit_card (Luhn), us_ssn, iban (checksum), phone, aws_access_key, private_key.
Documentation and test data are not PII: reserved domains (example.com, *.test, ...), published
test card numbers, placeholder SSNs and documentation IBANs are ignored.

The detectors run in the Rust core (`rust/core/src/guard/pii/`, `_core.find_pii`); the plain-Python
implementation they replaced is the test oracle in tests/support/pii_reference.py. The checksums
stay here for callers that validate one number.
"""

from __future__ import annotations

from collections.abc import Iterable

from omniroute import _core
from omniroute.security.detectors import Hit


def find_pii(text: str) -> list[Hit]:
    """PII and secret hits in `text`."""
    hits = _core.find_pii(text)
    return list(map(Hit._make, hits)) if hits else []


# Checksums ------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


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


def iban_valid(iban: str) -> bool:
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


# Redaction ------------------------------------------------------------------------------------


def redact(text: str, hits: Iterable[Hit]) -> str:
    """`text` with every hit replaced by `[REDACTED:<kind>]` (overlaps merged, first kind wins)."""
    spans = sorted(hits, key=lambda h: (h.start, -h.end))
    out: list[str] = []
    pos = 0
    for hit in spans:
        if hit.end <= pos:
            continue
        start = max(hit.start, pos)
        if start > pos:
            out.append(text[pos:start])
        if hit.start >= pos:
            out.append(f"[REDACTED:{hit.kind}]")
        pos = hit.end
    out.append(text[pos:])
    return "".join(out)
