"""Titles that name the same problem: 会员积分没到账 and 会员积分没有到账 are one problem to a
supervisor, whatever their descriptions made a clustering do."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, TypeVar

from kb.text.highlight import function_words

SAME_TITLE_JACCARD = 0.5     # character bigrams of two titles, function words removed; 发票抬头开错/发票抬头错了
                             # merge (0.5), 发票金额开错/发票抬头开错 (0.25) and 打印机不出纸/卡纸 (0.29) do not


class _Group(Protocol):
    members: list[int]
    top_terms: list[str]


G = TypeVar("G", bound=_Group)


def title_shape(title: str) -> frozenset[str]:
    words = function_words()
    kept = "".join(ch for ch in title if ch.isalnum() and ch not in words)
    return frozenset(kept[i:i + 2] for i in range(len(kept) - 1)) or frozenset(kept)


def merge_same_titles(groups: list[G], titles: list[str]) -> list[G]:
    """Groups whose representative titles (``titles[group.members[0]]``) are near-identical become
    one; larger groups absorb smaller ones; the result is ordered by size."""
    merged: list[tuple[frozenset[str], G, list[int], list[str]]] = []
    for group in groups:
        shape = title_shape(titles[group.members[0]])
        for target_shape, _, members, terms in merged:
            union = len(shape | target_shape)
            if union and len(shape & target_shape) / union >= SAME_TITLE_JACCARD:
                members.extend(group.members)
                terms.extend(t for t in group.top_terms if t not in terms)
                break
        else:
            merged.append((shape, group, list(group.members), list(group.top_terms)))
    out = [replace(first, members=members, top_terms=terms[:5]) for _, first, members, terms in merged]
    out.sort(key=lambda g: -len(g.members))
    return out
