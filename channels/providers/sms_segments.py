"""SMS segment counting (GSM 03.38).

A message that uses only the GSM-7 alphabet is sent 7 bits per character: 160 characters in one
SMS, 153 per part once it is split (the user data header takes 7 characters). Characters from the
extension table (€ [ ] { } \\ ^ ~ | and form feed) take an escape plus the character: 2 septets.
Any other character (an emoji, a non-breaking space, curly quotes, Devanagari ...) switches the
whole message to UCS-2: 70 UTF-16 code units in one SMS, 67 per part; characters outside the
Basic Multilingual Plane (most emoji) are a surrogate pair, i.e. 2 units.

Carriers never split an escape sequence or a surrogate pair across parts, so parts are filled
greedily and a 2-unit character that does not fit starts the next part.
"""

from __future__ import annotations

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

_BASIC = frozenset(GSM7_BASIC)
_EXTENSION = frozenset(GSM7_EXTENSION)

GSM7 = "GSM-7"
UCS2 = "UCS-2"

SINGLE = {GSM7: 160, UCS2: 70}
MULTI = {GSM7: 153, UCS2: 67}


_GSM7_ALL = _BASIC | _EXTENSION


def is_gsm7(text: str) -> bool:
    return _GSM7_ALL.issuperset(text)


def encoding(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def _units(text: str, enc: str) -> list[int]:
    """Size of each character in the encoding's units (septets or UTF-16 code units)."""
    if enc == GSM7:
        return [2 if ch in _EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def length(text: str) -> int:
    """Length in septets (GSM-7) or UTF-16 code units (UCS-2)."""
    return sum(_units(text, encoding(text)))


def segments(text: str) -> tuple[str, int]:
    """(encoding, number of SMS parts) for a message; an empty message is still one SMS."""
    enc = encoding(text)
    # The common single-part case without a per-character Python loop (every SMS is counted at
    # send time, for its cost).
    if enc == GSM7:
        total = len(text) + sum(text.count(ch) for ch in _EXTENSION.intersection(text))
    else:
        total = len(text.encode("utf-16-le")) // 2
    if total <= SINGLE[enc]:
        return enc, 1
    units = _units(text, enc)
    size, count, used = MULTI[enc], 1, 0
    for unit in units:
        if used + unit > size:
            count += 1
            used = 0
        used += unit
    return enc, count
