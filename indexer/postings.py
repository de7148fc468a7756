"""Whoosh postings read as numpy arrays, and BM25F summed over them.

Why: Whoosh's matchers score one posting at a time in Python (~10 µs each). At 100k cases a
draft's discriminating terms touch thousands of postings, which cost 40–75 ms per query.
Reading each posting block once and scoring with numpy gives Whoosh's own BM25F numbers
(same idf, quantised field lengths, B and K1) at a small fraction of that.

This reads the block layout of Whoosh 2.7.4's W3 codec (``whoosh==2.7.4`` is pinned);
``tests/indexer/test_postings.py`` checks the arrays and scores against Whoosh itself."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.matching import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def term_postings(reader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, term frequencies) of ``term`` in one segment reader, deleted
    documents included (callers mask them with ``Segment.live``)."""
    try:
        matcher = reader.postings(field, term)
    except TermNotFound:
        return _EMPTY
    if isinstance(matcher, FilterMatcher):   # the reader's deletion filter: read the raw postings
        matcher = matcher.child
        matcher.reset()
    if isinstance(matcher, ListMatcher):     # short lists are inlined in the term info
        ids, weights = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
    id_parts, weight_parts = [], []
    while matcher.is_active():
        matcher._read_data()                 # one unpickle per block of up to 128 postings
        deltas, weights = matcher._data[0], matcher._data[1]
        ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
        id_parts.append(ids)
        if weights is None:
            weight_parts.append(np.ones(len(ids)))
        elif isinstance(weights, float):
            weight_parts.append(np.full(len(ids), weights))
        else:
            weight_parts.append(np.asarray(weights, dtype=np.float64))
        if matcher._lastblock:
            break
        matcher._goto(matcher._nextoffset)
    if not id_parts:
        return _EMPTY
    return np.concatenate(id_parts), np.concatenate(weight_parts)


@dataclass(frozen=True)
class Segment:
    """One leaf of a searcher: where its documents start in the searcher's numbering, the
    quantised field lengths Whoosh scores with, and which documents are live."""

    reader: object
    offset: int
    size: int
    lengths: dict[str, np.ndarray]
    live: np.ndarray | None          # None: no deletions


class SegmentLengths:
    """Field-length arrays per immutable segment, shared by all threads' searchers: a new
    commit adds a small segment, so only that one is read again."""

    def __init__(self, capacity: int = 256) -> None:
        self._cache: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def get(self, key_prefix: str, reader, field: str) -> np.ndarray:
        key = (key_prefix, reader.segment().segment_id(), field)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        size = reader.doc_count_all()
        lengths = np.fromiter((reader.doc_field_length(d, field, 0) or 0 for d in range(size)),
                              dtype=np.float64, count=size)
        with self._lock:
            self._cache[key] = lengths
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return lengths


def segments(searcher, fields, lengths: SegmentLengths, key_prefix: str) -> list[Segment]:
    out = []
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        size = reader.doc_count_all()
        live = None
        if reader.has_deletions():
            live = np.ones(size, dtype=bool)
            live[np.fromiter(reader.segment().deleted_docs(), dtype=np.int64)] = False
        out.append(Segment(reader, offset, size, {f: lengths.get(key_prefix, reader, f) for f in fields}, live))
    return out


def allowed(searcher, leaves: list[Segment], conditions: dict[str, str | list[str] | None]) -> np.ndarray | None:
    """Mask of live documents matching every condition — a field equal to a value, or to any
    of a list of values (an empty list matches nothing); None when unrestricted."""
    conditions = {k: v for k, v in conditions.items() if v is not None and v != ""}
    deletions = any(leaf.live is not None for leaf in leaves)
    if not conditions and not deletions:
        return None
    mask = np.ones(searcher.doc_count_all(), dtype=bool)
    for leaf in leaves:
        part = mask[leaf.offset: leaf.offset + leaf.size]
        if leaf.live is not None:
            part &= leaf.live
        for field, value in conditions.items():
            hits = np.zeros(leaf.size, dtype=bool)
            for one in ([value] if isinstance(value, str) else value):
                ids, _ = term_postings(leaf.reader, field, one)
                hits[ids] = True
            part &= hits
    return mask


def bm25f(searcher, leaves: list[Segment], weighted: list[tuple[str, str, float]]) -> np.ndarray:
    """Scores of every document in the searcher's numbering for an Or of (field, term, boost):
    Σ boost × BM25(idf, tf, field length) with Whoosh's BM25F parameters — the same numbers
    ``searcher.search(Or([Term(field, term, boost=boost), …]))`` gives."""
    weighting = searcher.weighting
    scores = np.zeros(searcher.doc_count_all())
    for field, term, boost in weighted:
        idf = searcher.idf(field, term)
        avgfl = searcher.avg_field_length(field) or 1.0
        B = weighting._field_B.get(field, weighting.B)
        K1 = weighting.K1
        for leaf in leaves:
            ids, tf = term_postings(leaf.reader, field, term)
            if not len(ids):
                continue
            fl = leaf.lengths[field][ids]
            scores[leaf.offset + ids] += boost * idf * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl))
    return scores


def top(scores: np.ndarray, limit: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``limit`` best (docnum, score) pairs with a positive score, best first."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > limit:
        candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [(int(d), float(scores[d])) for d in order]
