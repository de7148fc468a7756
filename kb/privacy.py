"""Masking of contacts and redaction of personal numbers in free text (脱敏).

Redaction runs before text reaches storage (by default), the search index, the
training data, logs or exports. Detectors are strict on purpose: an ID-card number
must pass its GB 11643 checksum and carry a real birth date, a bank-card number must
pass Luhn and start like a card (3/4/5/6), so order numbers, dates and versions
survive untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

PLACEHOLDERS = {
    "email": "[邮箱]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "mobile": "[手机号]",
    "landline": "[固话]",
}

_EDGE_L = r"(?<![0-9A-Za-z_@.])"
_EDGE_R = r"(?![0-9A-Za-z_])"

EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
ID_CARD_RE = re.compile(_EDGE_L + r"[1-9]\d{16}[\dXx]" + _EDGE_R)
BANK_CARD_RE = re.compile(_EDGE_L + r"(?:\d{16,19}|\d{4}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?)" + _EDGE_R)
MOBILE_RE = re.compile(_EDGE_L + r"(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}" + _EDGE_R)
LANDLINE_RE = re.compile(
    _EDGE_L + r"(?:\(0\d{2,3}\)\s?|（0\d{2,3}）\s?|0\d{2,3}[ \-])[2-9]\d{6,7}(?:[\-转]\d{1,5})?" + _EDGE_R
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_checksum_ok(number: str) -> bool:
    """GB 11643-1999 check digit plus a plausible birth date (1900 … today)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17].upper():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _bank_card_ok(candidate: str) -> bool:
    digits = re.sub(r"[ \-]", "", candidate)
    return 16 <= len(digits) <= 19 and digits[0] in "3456" and luhn_ok(digits)


def redact_text(text: str | None) -> str | None:
    """Replace e-mail, ID-card, bank-card, mobile and landline numbers with typed placeholders."""
    if not text:
        return text
    text = EMAIL_RE.sub(PLACEHOLDERS["email"], text)
    text = ID_CARD_RE.sub(lambda m: PLACEHOLDERS["id_card"] if id_card_checksum_ok(m.group()) else m.group(), text)
    text = BANK_CARD_RE.sub(lambda m: PLACEHOLDERS["bank_card"] if _bank_card_ok(m.group()) else m.group(), text)
    text = MOBILE_RE.sub(PLACEHOLDERS["mobile"], text)
    text = LANDLINE_RE.sub(PLACEHOLDERS["landline"], text)
    return text


def find_personal_data(text: str) -> list[str]:
    """Kinds of personal data found in ``text`` (for import reports and audits)."""
    redacted = redact_text(text) or ""
    return [kind for kind, ph in PLACEHOLDERS.items() if ph in redacted and ph not in text]


def mask_contact(contact: str | None) -> str | None:
    """Mask a contact for storage: ``138****5678``, ``zh***@example.com``, ``010-****5678``."""
    if contact is None:
        return None
    value = contact.strip()
    if not value:
        return None
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:2]}***@{domain}"
    digits = re.sub(r"\D", "", value)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        area = re.match(r"\(?(0\d{2,3})\)?[ \-）)]", value)
        head = f"{area.group(1)}-" if area else ""
        return f"{head}****{digits[-4:]}"
    if len(value) <= 2:
        return "*" * len(value)
    return f"{value[0]}***{value[-1]}"


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``; Latin names keep their first letter."""
    name = name.strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


def normalize_contact(contact: str | None) -> str | None:
    """One spelling per contact, so a customer is found however the agent typed it: e-mail
    lower case; phone numbers as digits without the +86/0086 country code."""
    if contact is None:
        return None
    value = contact.strip()
    if not value:
        return None
    if "@" in value:
        return value.lower()
    digits = re.sub(r"\D", "", value)
    if not digits:
        return re.sub(r"\s+", "", value).lower()
    for code in ("0086", "86"):
        if digits.startswith(code) and len(digits) - len(code) == 11 and digits[len(code)] == "1":
            return digits[len(code):]
    return digits


def contact_hash(contact: str | None, key: bytes | None) -> str | None:
    """HMAC-SHA256 of the normalised contact with the server's secret: equal contacts match,
    and without the key the stored value cannot be turned back into a phone number by trying
    all of them (an unkeyed hash of a mobile number can)."""
    normalized = normalize_contact(contact)
    if normalized is None or not key:
        return None
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()
