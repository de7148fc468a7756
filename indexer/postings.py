"""Whoosh postings read as numpy arrays, and BM25F summed over them.

Why: Whoosh's matchers score one posting at a time in Python (~10 µs each). At 100k cases a
draft's discriminating terms touch thousands of postings, which cost 40–75 ms per query.
Reading each posting block once and scoring with numpy gives Whoosh's own BM25F numbers
(same idf, quantised field lengths, B and K1) at a small fraction of that.

This reads the block layout of Whoosh 2.7.4's W3 codec (``whoosh==2.7.4`` is pinned);
``tests/indexer/test_postings.py`` checks the arrays and scores against Whoosh itself."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
CACHE_MB = 128                   # decoded postings and BM25 parts kept per process (ZHIKU_INDEX_CACHE_MB)
FREQUENCIES_CAPACITY = 200_000   # (segment, field, term) document frequencies kept per index (~40 MB at most)
AVGFL_TOLERANCE = 0.01           # a BM25 part is recomputed once the field's average length moved more than this
FULL_PART_RATIO = 200            # bm25f_for: lists longer than this × the documents scored are searched
PACKED_SEGMENTS = 256            # segments whose packed postings a process keeps mapped


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
    return _blocks(matcher)


def _blocks(matcher) -> tuple[np.ndarray, np.ndarray]:
    """The postings of a block matcher, one unpickle per block of up to 128 postings."""
    id_parts, weight_parts = [], []
    while matcher.is_active():
        matcher._read_data()
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


def segment_postings(reader, field: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Every term of ``field`` in one segment reader, in term order, with its postings as
    ``term_postings`` gives them — read in one pass over the term file. Looked up one term at a
    time (a hash probe, then a matcher) this was most of packing a new segment: ~0.1 ms a term,
    10,000 terms for a 200-document merge."""
    if field not in reader.schema:
        return
    terms, format_ = reader._terms, reader.schema[field].format       # whoosh 2.7.4 (pinned)
    for raw, info in reader.iter_field(field):
        term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if info.is_inlined():
            ids, weights, _ = info.inlined_postings()
            yield term, np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)
        else:
            offset, length = info.extent()
            yield term, *_blocks(W3LeafMatcher(terms._postfile, offset, length, format_))


@dataclass(frozen=True)
class Segment:
    """One leaf of a searcher: where its documents start in the searcher's numbering, the
    quantised field lengths Whoosh scores with, and which documents are live."""

    reader: object
    offset: int
    size: int
    lengths: dict[str, np.ndarray]
    live: np.ndarray | None          # None: no deletions
    cache: SegmentCache
    key_prefix: tuple                # (generation, segment id): names the segment in the cache
    packed: dict | None = None       # field → indexer.packed.PackedField, when the writer packed it
    entity_ids: np.ndarray | None = None  # each document's entity id, when the writer packed them


class _BudgetedLru:
    """Arrays kept within a budget of elements, least recently used out; a value larger than a
    quarter of the budget is not kept (not worth evicting everything else for)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple, value: tuple, elements: int) -> None:
        if elements > self.budget // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old[0]
            self._items[key] = (elements + 1, value)
            self.size += elements + 1
            while self.size > self.budget:
                _, (gone, _) = self._items.popitem(last=False)
                self.size -= gone


class SegmentCache:
    """Per-segment arrays shared by all threads' searchers: field lengths and the documents
    holding a filter value (kind, status, audience, …). Segments are immutable (deletions are
    applied separately), so a new commit only adds work for its own small segment."""

    def __init__(self, capacity: int = 512, cache_mb: float = CACHE_MB) -> None:
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # half the budget each: decoded postings (int32 id + float32 tf = 8 bytes) and BM25 tf
        # parts (float64 + the id array they keep alive = 12 bytes)
        self._postings = _BudgetedLru(int(cache_mb * 2**20 / 2 / 8))
        self._normalised = _BudgetedLru(int(cache_mb * 2**20 / 2 / 12))
        self._frequencies: OrderedDict[tuple, int] = OrderedDict()
        self.frequencies_capacity = FREQUENCIES_CAPACITY
        self._lock = threading.Lock()
        self.capacity = capacity
        self._packed: OrderedDict[tuple, dict] = OrderedDict()

    def packed(self, key_prefix: tuple, load) -> dict | None:
        """The segment's packed postings (``indexer.packed``), loaded once per process."""
        with self._lock:
            if key_prefix in self._packed:
                self._packed.move_to_end(key_prefix)
                return self._packed[key_prefix]
        value = load()
        if value is None:             # not packed yet (the writer packs right after its commit): look again next time
            return None
        with self._lock:
            self._packed[key_prefix] = value
            while len(self._packed) > PACKED_SEGMENTS:
                self._packed.popitem(last=False)
        return value

    def _get(self, key: tuple, compute) -> np.ndarray:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        value = compute()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return value

    def lengths(self, key_prefix: tuple, reader, field: str) -> np.ndarray:
        return self._get((key_prefix, "len", field), lambda: field_lengths(reader, field))

    def postings(self, key_prefix: tuple, reader, field: str, term: str,
                 packed: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``term_postings`` kept decoded (int32 ids, float32 frequencies) within a budget of
        postings, least recently used first out: a desk's drafts reuse the same vocabulary, and
        unpickling Whoosh's blocks is the largest cost of a query. A packed segment's postings
        are slices of its mapped arrays, nothing to keep."""
        if packed is not None and field in packed:
            return packed[field].postings(term)
        key = (key_prefix, field, term)
        hit = self._postings.get(key)
        if hit is not None:
            return hit[1]
        ids, tf = term_postings(reader, field, term)
        value = (ids.astype(np.int32), tf.astype(np.float32))
        self._postings.put(key, value, len(ids))
        return value

    def doc_frequency(self, key_prefix: tuple, reader, field: str, term: str,
                      packed: dict | None = None) -> int:
        """Documents of the segment (deleted ones included, as Whoosh counts) holding ``term``:
        from a packed segment's offsets, else remembered per segment for every thread, since a
        term look-up reads the term file."""
        if packed is not None and field in packed:
            return packed[field].doc_frequency(term)
        key = (key_prefix, "df", field, term)
        with self._lock:
            df = self._frequencies.get(key)
        if df is None:
            df = reader.doc_frequency(field, term)
            with self._lock:
                self._frequencies[key] = df
                if len(self._frequencies) > self.frequencies_capacity:
                    self._frequencies.popitem(last=False)
        return df

    def entity_ids(self, key_prefix: tuple, reader) -> np.ndarray:
        """The ``entity_id`` stored with each document of an unpacked segment, -1 until first
        read (a stored-fields read per hit was a file read per hit)."""
        return self._get((key_prefix, "entity"),
                         lambda: np.full(reader.doc_count_all(), -1, dtype=np.int64))

    def normalised(self, key_prefix: tuple, reader, field: str, term: str, lengths: np.ndarray, avgfl: float,
                   B: float, K1: float, packed: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, BM25's term-frequency part tf·(K1+1) / (tf + K1·(1 − B + B·fl/avgfl))) of a
        term in the segment: the per-document factor of its score, idf and boost aside. Kept
        with the average field length it was computed for, and computed again once a commit has
        moved that average by more than ``AVGFL_TOLERANCE``: a busy writer commits twice a
        second during a large import, and every commit would otherwise recompute every common
        term's part over its long postings on the next query. Within the tolerance a term's
        contribution differs from Whoosh's by less than B·1 % ≈ 0.75 %."""
        hit = self.kept_part(key_prefix, field, term, avgfl, B, K1)
        if hit is not None:
            return hit
        ids, tf = self.postings(key_prefix, reader, field, term, packed)
        tf64 = tf.astype(np.float64)
        part = tf64 * (K1 + 1) / (tf64 + K1 * ((1 - B) + B * lengths[ids] / avgfl))
        self._normalised.put((key_prefix, "norm", field, term), ((avgfl, B, K1), ids, part), len(ids))
        return ids, part

    def kept_part(self, key_prefix: tuple, field: str, term: str, avgfl: float, B: float, K1: float
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """``normalised``'s answer if it is kept and still within the tolerance, else None."""
        hit = self._normalised.get((key_prefix, "norm", field, term))
        if hit is not None:
            cached_avgfl, cached_b, cached_k1 = hit[1][0]
            if cached_b == B and cached_k1 == K1 and abs(cached_avgfl - avgfl) <= AVGFL_TOLERANCE * avgfl:
                return hit[1][1], hit[1][2]
        return None

    def having(self, key_prefix: tuple, reader, field: str, value: str) -> np.ndarray:
        """Mask of the segment's documents (deleted ones included) whose ``field`` holds ``value``."""
        def compute() -> np.ndarray:
            mask = np.zeros(reader.doc_count_all(), dtype=bool)
            mask[term_postings(reader, field, value)[0]] = True
            return mask
        return self._get((key_prefix, "has", field, value), compute)


class Leaves(list):
    """A searcher's segments, with the sums over them a query would otherwise add up again for
    each term: each field's average length (Whoosh's ``avg_field_length`` sums every segment's
    total on each call; asked per term, field and segment, that was 40 % of a similar-case
    search over 19 segments) and, as they are asked for, document frequencies (a desk's drafts
    share most of their words). A searcher never changes, so both stay exact."""

    LIMIT = 100_000         # remembered document frequencies per searcher

    def __init__(self, segments, average_lengths: dict[str, float]) -> None:
        super().__init__(segments)
        self.average_lengths = average_lengths
        self.frequencies: dict[tuple[str, str], int] = {}


def field_lengths(reader, field: str) -> np.ndarray:
    """Each document's length in ``field`` (deleted ones included), as Whoosh scores with it."""
    size = reader.doc_count_all()
    return np.fromiter((reader.doc_field_length(d, field, 0) or 0 for d in range(size)), dtype=np.float64, count=size)


def segments(searcher, fields, cache: SegmentCache, key_prefix: str, load_packed=None) -> Leaves:
    """The searcher's segments; ``load_packed(segment id)`` gives a segment's packed postings."""
    out = []
    for leaf, offset in searcher.leaf_searchers():
        reader = leaf.reader()
        size = reader.doc_count_all()
        if size == 0 or reader.segment() is None:      # an empty index has no segment to read
            continue
        live = None
        if reader.has_deletions():
            live = np.ones(size, dtype=bool)
            live[np.fromiter(reader.segment().deleted_docs(), dtype=np.int64)] = False
        segment_id = reader.segment().segment_id()
        segment_key = (key_prefix, segment_id)    # the cache's key for this segment
        packed = cache.packed(segment_key, lambda: load_packed(segment_id)) if load_packed else None
        # lengths and entity ids packed with the postings (indexer.packed checks they agree)
        ids = getattr(packed, "entity_ids", None)
        ids = ids if ids is not None and len(ids) == size else None
        lengths = {f: packed[f].lengths if ids is not None and f in packed else cache.lengths(segment_key, reader, f)
                   for f in fields}
        out.append(Segment(reader, offset, size, lengths, live, cache, segment_key, packed, ids))
    return Leaves(out, {f: searcher.avg_field_length(f) or 1.0 for f in fields})


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
            values = [value] if isinstance(value, str) else list(value)
            hits = np.zeros(leaf.size, dtype=bool)
            for one in values:
                hits |= leaf.cache.having(leaf.key_prefix, leaf.reader, field, one)
            part &= hits
    return mask


def doc_frequency(leaves: Leaves, field: str, term: str) -> int:
    """``searcher.doc_frequency`` from the segments' shared cache (summed once per searcher)."""
    remembered = leaves.frequencies
    df = remembered.get((field, term))
    if df is None:
        df = sum(leaf.cache.doc_frequency(leaf.key_prefix, leaf.reader, field, term, leaf.packed) for leaf in leaves)
        if len(remembered) >= Leaves.LIMIT:
            remembered.clear()
        remembered[(field, term)] = df
    return df


def idf(searcher, leaves: Leaves, field: str, term: str) -> float:
    """Whoosh's ``WeightingModel.idf`` (log(N / (df + 1)) + 1) with the cached frequencies."""
    return math.log(searcher.doc_count_all() / (doc_frequency(leaves, field, term) + 1)) + 1


def _tf_parts(searcher, leaves: Leaves, leaf: Segment, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, BM25 tf parts) of ``term`` in ``leaf`` with Whoosh's BM25F B, K1 and the searcher's
    average field length (``SegmentCache.normalised``)."""
    weighting = searcher.weighting
    return leaf.cache.normalised(leaf.key_prefix, leaf.reader, field, term, leaf.lengths[field],
                                 leaves.average_lengths[field], weighting._field_B.get(field, weighting.B),
                                 weighting.K1, leaf.packed)


def bm25f(searcher, leaves: Leaves, weighted: list[tuple[str, str, float]]) -> np.ndarray:
    """Scores of every document in the searcher's numbering for an Or of (field, term, boost):
    Σ boost × BM25(idf, tf, field length) with Whoosh's BM25F parameters — the same numbers
    ``searcher.search(Or([Term(field, term, boost=boost), …]))`` gives."""
    scores = np.zeros(searcher.doc_count_all())
    for field, term, boost in weighted:
        factor = boost * idf(searcher, leaves, field, term)
        for leaf in leaves:
            ids, part = _tf_parts(searcher, leaves, leaf, field, term)
            if len(ids):
                scores[leaf.offset + ids] += factor * part
    return scores


def bm25f_for(searcher, leaves: Leaves, weighted: list[tuple[str, str, float]],
              docs: np.ndarray) -> np.ndarray:
    """The same sum, for the given documents only (each term's postings searched, not scattered).

    A term's BM25 part is computed for its whole list and kept (``SegmentCache.normalised``)
    when the list is at most ``FULL_PART_RATIO`` times longer than the documents asked about;
    a longer list — a common word at 1M documents, 的 in half of them — is searched for those
    documents and the part computed for the postings found only. Computing and keeping the
    whole part of such lists to score 150 candidates was most of a short draft's search at 1M,
    and it pushed the discriminating terms' parts out of the cache."""
    out = np.zeros(len(docs))
    weighting = searcher.weighting
    for field, term, boost in weighted:
        factor = boost * idf(searcher, leaves, field, term)
        B, K1 = weighting._field_B.get(field, weighting.B), weighting.K1
        avgfl = leaves.average_lengths[field]
        for leaf in leaves:
            inside = (docs >= leaf.offset) & (docs < leaf.offset + leaf.size)
            if not inside.any():
                continue
            local = docs[inside] - leaf.offset
            kept = leaf.cache.kept_part(leaf.key_prefix, field, term, avgfl, B, K1)
            if kept is None:
                ids, tf = leaf.cache.postings(leaf.key_prefix, leaf.reader, field, term, leaf.packed)
                if len(ids) <= FULL_PART_RATIO * len(local):
                    kept = _tf_parts(searcher, leaves, leaf, field, term)
            else:
                ids = kept[0]
            if not len(ids):
                continue
            # searched in the postings' own dtype: int64 queries into int32 ids made numpy cast
            # the whole list first (85 vs 4 µs for 150 documents in 500k postings)
            pos = np.minimum(np.searchsorted(ids, local.astype(ids.dtype)), len(ids) - 1)
            found = ids[pos] == local
            if not found.any():
                continue
            if kept is not None:
                part = kept[1][pos[found]]
            else:
                tf_found = tf[pos[found]].astype(np.float64)
                lengths = leaf.lengths[field][local[found]]
                part = tf_found * (K1 + 1) / (tf_found + K1 * ((1 - B) + B * lengths / avgfl))
            add = np.zeros(len(local))
            add[found] = factor * part
            out[inside] += add
    return out


def top(scores: np.ndarray, limit: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``limit`` best (docnum, score) pairs with a positive score, best first."""
    candidates = np.flatnonzero(scores > 0)
    if mask is not None:        # on the scored documents only (a where() over all was ~0.14 ms at 100k)
        candidates = candidates[mask[candidates]]
    if len(candidates) > limit:
        candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [(int(d), float(scores[d])) for d in order]
