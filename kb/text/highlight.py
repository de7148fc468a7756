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


# jieba's part-of-speech tags of words that carry no topic: adverbs (已经, 也, 不), particles (了),
# conjunctions (可以, 但是), prepositions, pronouns (什么, 我们), modal particles (吗), interjections,
# onomatopoeia, direction, time, numeral and classifier words
_FUNCTION_TAGS = frozenset({"d", "c", "p", "r", "y", "e", "o", "f", "t", "m", "q"})


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """The function words of jieba's own dictionary (its part-of-speech column), read once
    (~0.15 s, ~20k words): the same source jieba.posseg tags with, not a hand-kept stop list."""
    import jieba

    with jieba.get_dict_file() as f:
        rows = (line.decode("utf-8").split() for line in f)
        return frozenset(row[0] for row in rows
                         if len(row) == 3 and (row[2] in _FUNCTION_TAGS or row[2].startswith("u")))


def markable(term: str) -> bool:
    """Whether a matched query word is worth a <mark>: marking 了/也/不/已经 in every snippet
    points at nothing."""
    if len(term) < 2 and term.isascii():
        return False
    return term not in function_words()


@lru_cache(maxsize=256)
def _marks(terms: tuple[str, ...]) -> tuple[str, ...]:
    """The markable terms, longest first. One suggestion highlights ~15 texts with the same
    terms: they are filtered and sorted once."""
    return tuple(sorted({t for t in terms if markable(t)}, key=len, reverse=True))


def highlight(text: str | None, terms: list[str], *, width: int = 80) -> str | None:
    """An HTML-escaped snippet of ``text`` around the first match, matches in ``<mark>``."""
    if not text:
        return text
    mapped = _normalized_with_map(text)
    spans: list[tuple[int, int]] = []
    if mapped is not None:
        norm, origin = mapped
        for term in _marks(tuple(terms)):
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
