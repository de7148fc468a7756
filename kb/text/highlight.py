"""Highlighted snippets in the *original* script: terms are found in the normalised form
(Simplified, lower case, half width) and marked at the same places of the text as written."""

from __future__ import annotations

import html
import unicodedata
from functools import lru_cache

from kb.text.normalize import to_simplified


class _FoldTable(dict):
    """Per-character NFKC + lower case for ``str.translate``, filled as characters are met
    (a Python loop over every character was a tenth of a suggestion's time)."""

    def __missing__(self, code: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(code)).lower()
        self[code] = folded
        return folded


_FOLD = _FoldTable()


@lru_cache(maxsize=4096)
def _normalized_with_map(text: str) -> tuple[str, range | tuple[int, ...]] | None:
    """The folded, Simplified text and, per folded character, its index in ``text``.
    Remembered for the last few thousand texts: the same resolved cases are shown again and
    again, and the Simplified conversion of their text was most of a highlight's cost."""
    folded = text.translate(_FOLD)
    if len(folded) == len(text):
        origin: range | tuple[int, ...] = range(len(text))
    else:                                 # some character folded to several: map them one by one
        origin = tuple(i for i, ch in enumerate(text) for _ in _FOLD[ord(ch)])
    simplified = to_simplified(folded)
    if len(simplified) != len(folded):    # a phrase conversion changed length: no safe map
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
