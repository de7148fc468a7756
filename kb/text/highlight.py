"""Highlighted snippets in the *original* script: terms are found in the normalised form
(Simplified, lower case, half width) and marked at the same places of the text as written."""

from __future__ import annotations

import html
import unicodedata

from kb.text.normalize import to_simplified


def _normalized_with_map(text: str) -> tuple[str, list[int]] | None:
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).lower()
        chars.append(folded)
        origin.extend([i] * len(folded))
    folded_text = "".join(chars)
    simplified = to_simplified(folded_text)
    if len(simplified) != len(folded_text):      # a phrase conversion changed length: no safe map
        return None
    return simplified, origin


def highlight(text: str | None, terms: list[str], *, width: int = 80) -> str | None:
    """An HTML-escaped snippet of ``text`` around the first match, matches in ``<mark>``."""
    if not text:
        return text
    mapped = _normalized_with_map(text)
    spans: list[tuple[int, int]] = []
    if mapped is not None:
        norm, origin = mapped
        for term in sorted({t for t in terms if len(t) > 1 or not t.isascii()}, key=len, reverse=True):
            start = norm.find(term)
            while start != -1:
                a, b = origin[start], origin[start + len(term) - 1] + 1
                if not any(a < y and x < b for x, y in spans):
                    spans.append((a, b))
                start = norm.find(term, start + len(term))
    spans.sort()
    first = spans[0][0] if spans else 0
    lo = max(0, min(first - width // 4, len(text) - width))
    hi = min(len(text), lo + width)
    out, pos = [], lo
    for a, b in spans:
        if a < lo or b > hi:
            continue
        out.append(html.escape(text[pos:a]))
        out.append(f"<mark>{html.escape(text[a:b])}</mark>")
        pos = b
    out.append(html.escape(text[pos:hi]))
    return ("…" if lo > 0 else "") + "".join(out) + ("…" if hi < len(text) else "")
