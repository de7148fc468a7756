"""The Whoosh index: generations on disk, long-lived per-thread searchers, and fast
similar-case queries built directly from key terms.

Layout: ``<root>/CURRENT`` names the live generation; ``<root>/<generation>/`` is a Whoosh
index plus ``meta.json`` (schema and text version). A rebuild writes a new generation and
switches CURRENT atomically; searchers notice a new generation or new commits and reopen
(a fresh searcher, never ``refresh()`` semantics of the Whoosh forks).

Speed (see ARCHITECTURE.md Facts): a similar-case query uses a bounded number of key terms
chosen by query tf × idf with a minimum document frequency, on a searcher reused across
requests; postings are scored with numpy (``indexer.postings``), not Whoosh's matchers."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import pickle
import shutil
import struct
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.scoring import BM25F

from indexer import integrity, packed
from indexer.postings import (CACHE_MB, Leaves, Segment, SegmentCache, allowed, bm25f, bm25f_for, doc_frequency,
                              segments, top)
from indexer.schema import SCHEMA_VERSION, TEXT_FIELDS, make_schema
from kb.text.segment import DictionarySnapshot, Segmenter, for_version

# Field weights and limits, chosen with bench/similar_quality.py on BQ / AFQMC / LCQMC.
FIELD_BOOSTS = {"title": 1.0, "body": 0.6}
SEARCH_BOOSTS = {**FIELD_BOOSTS, "solution": 0.4}   # full-text search also looks at the solutions
SHORT_QUERY_TERMS = 12          # up to this many distinct terms: keep them all
LONG_QUERY_TERMS = 24           # longer drafts: the best-scoring key terms
MIN_DF_LONG = 2                 # …that occur in at least this many documents
BULK_PARALLEL_FROM = 20_000     # documents from which a rebuild writes with two processes
OPEN_ATTEMPTS = 5               # opening races a concurrent commit at most this many times
RECHECK_SECONDS = 0.2           # how often a searcher checks for a new generation / commit
COMMON_DF_RATIO = 0.05          # terms in more of the index than this are scored on candidates only…
MIN_COMMON_DF = 2000            # …unless they are in fewer documents than this (cheap to score exactly)
SELECTIVE_FILTER_DOCS = 5000    # filters leaving at most this many documents…
SELECTIVE_FILTER_SHARE = 0.2    # …and this share of the index: score those directly
MASKS_PER_SEARCHER = 64        # filter masks kept per searcher (100k documents: 100 kB each)
CANDIDATE_FACTOR = 5            # candidates gathered per requested hit…
MIN_CANDIDATES = 150            # …and at least this many (AFQMC: 50 → 0.0439, 150 → 0.0445 MRR@10)


Filters = dict[str, "str | list[str] | None"]


log = logging.getLogger("zhiku.indexer")

# What a damaged generation raises from inside Whoosh (truncated files: EOFError, struct.error;
# a garbled TOC: UnpicklingError, TypeError; vanished files: OSError) — seen by corrupting
# generations in tests/indexer/test_integrity.py.
READ_ERRORS = (OSError, EOFError, struct.error, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError,
               zlib.error)
# The same while writing, except a full or failing disk: that is not the generation's fault,
# and a rebuild would not help.
WRITE_DAMAGE = (FileNotFoundError, EOFError, struct.error, pickle.UnpicklingError, ValueError, TypeError, KeyError,
                IndexError, zlib.error)


class IndexUnavailable(RuntimeError):
    """No usable index (missing, or built with another schema or text version, or damaged)."""


class IndexCorrupt(IndexUnavailable):
    """The generation's files cannot be read as written; it is marked so every process stops
    using it, and the writer rebuilds a fresh generation from the database."""


def _guarded(method):
    """Reads that meet a damaged generation mark it and say ``IndexCorrupt`` instead of raising
    whatever Whoosh tripped over (or, worse, answering from half a segment)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except IndexUnavailable:
            raise
        except READ_ERRORS as exc:
            state = getattr(self._local, "state", None)
            generation = state.generation if state is not None else self.current_generation()
            self.close()
            raise self.corrupt(generation, exc) from exc

    return wrapper


def _one_at_a_time(method):
    """Searches of one process run one at a time. Why: a search is a few ms of numpy and file
    reads, each of which lets go of the GIL and must win it back; with the worker's four
    request threads searching at once, they spent their time handing the GIL around — 4
    threads searched at half the rate of 1 (110 vs 231 queries/s at 100k cases, measured
    with bench/suggest_load.py's index). Queued on a lock, waiting threads sleep instead."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._search_lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Hit:
    kind: str
    entity_id: int
    score: float


@dataclass
class _ThreadSearcher:
    generation: str
    searcher: object
    checked_at: float
    files: dict[str, int] = field(default_factory=dict)   # name → size when opened
    leaves: Leaves | None = None
    masks: dict = field(default_factory=dict)      # filter conditions → (allowed mask, its documents)


def _hits(searcher, leaves: list[Segment], kind: str, docs: np.ndarray, scores: np.ndarray) -> list[Hit]:
    """Ranked document numbers → hits carrying the entity id stored with each document (packed
    by the writer; for an unpacked segment read once per document, then remembered for every
    thread)."""
    out = []
    for d, score in zip(docs, scores):
        d = int(d)
        leaf = next(leaf for leaf in leaves if leaf.offset <= d < leaf.offset + leaf.size)
        if leaf.entity_ids is not None:
            out.append(Hit(kind, int(leaf.entity_ids[d - leaf.offset]), float(score)))
            continue
        ids = leaf.cache.entity_ids(leaf.key_prefix, leaf.reader)
        if ids[d - leaf.offset] < 0:
            ids[d - leaf.offset] = int(searcher.stored_fields(d)["entity_id"])
        out.append(Hit(kind, int(ids[d - leaf.offset]), float(score)))
    return out


class WhooshIndex:
    """Reads always tokenise with the segmenter of the generation being searched (its
    dictionary is stored in meta.json), so a dictionary edit never mixes token versions: the
    writer rebuilds a new generation with the new dictionary and switches when it is done."""

    def __init__(self, root: Path, cache_dir: Path | None = None, *, cache_mb: int = CACHE_MB) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self._local = threading.local()
        self._meta: dict[str, dict] = {}    # generations are immutable: read each meta.json once
        self._segment_cache = SegmentCache(cache_mb=cache_mb)
        self._search_lock = threading.Lock()

    # -- generations ------------------------------------------------------------------------

    def directory(self, generation: str) -> Path:
        return self.root / generation

    def current_generation(self) -> str | None:
        try:
            return (self.root / "CURRENT").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def searched_generation(self) -> str | None:
        """The generation this thread's searcher reads — the one that answered its last search
        (no file read, unlike ``current_generation``)."""
        state = getattr(self._local, "state", None)
        return state.generation if state is not None else None

    def meta(self, generation: str | None = None) -> dict | None:
        generation = generation or self.current_generation()
        if generation is None:
            return None
        meta = self._meta.get(generation)
        if meta is None:
            try:
                meta = json.loads((self.root / generation / "meta.json").read_text(encoding="utf-8"))
            except FileNotFoundError:
                return None
            except ValueError as exc:     # not JSON, not UTF-8
                raise self.corrupt(generation, exc) from exc
            if not isinstance(meta, dict):
                raise self.corrupt(generation, "meta.json is not an object")
            self._meta[generation] = meta
        return meta

    def corrupt(self, generation: str | None, exc: BaseException | str) -> IndexCorrupt:
        """Mark ``generation`` damaged (for every process) and return the error to raise."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if generation:
            integrity.mark_corrupt(self.root / generation, reason)
            self._meta.pop(generation, None)
        log.error("index generation is damaged", extra={"generation": generation, "reason": reason})
        return IndexCorrupt(f"corrupt generation {generation}: {reason}")

    def problem(self, expected_text_version: str | None = None, *, generation: str | None = None) -> str | None:
        """Why the current generation (or ``generation``) can't be used (for reading; with
        ``expected_text_version``, for writing), or None when it can."""
        generation = generation or self.current_generation()
        try:
            meta = self.meta(generation)
        except IndexCorrupt as exc:
            return str(exc)
        if meta is None:
            return "no index generation yet"
        damage = integrity.corrupt_reason(self.root / generation)
        if damage is not None:
            return f"corrupt generation {generation}: {damage}"
        if meta.get("schema_version") != SCHEMA_VERSION:
            return f"schema version {meta.get('schema_version')} ≠ {SCHEMA_VERSION}"
        if expected_text_version is not None and meta.get("text_version") != expected_text_version:
            return f"text version {meta.get('text_version')} ≠ {expected_text_version}"
        return None

    def create_generation(self, snapshot: DictionarySnapshot) -> tuple[str, whoosh_index.FileIndex]:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        directory = self.root / name
        directory.mkdir(parents=True)
        ix = whoosh_index.create_in(str(directory), make_schema())
        (directory / "meta.json").write_text(json.dumps({
            "schema_version": SCHEMA_VERSION, "text_version": snapshot.version, "dictionary": snapshot.to_json(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}, ensure_ascii=False), encoding="utf-8")
        return name, ix

    def segmenter(self, generation: str | None = None) -> Segmenter:
        """The segmenter the generation was written with."""
        meta = self.meta(generation)
        if meta is None:
            raise IndexUnavailable("no index generation yet")
        return for_version(meta["text_version"], DictionarySnapshot.from_json(meta["dictionary"]), self.cache_dir)

    def tokens(self, text: str, generation: str | None = None) -> list[str]:
        seg = self.segmenter(generation)
        return seg.tokens(seg.normalize(text), "index")

    def switch(self, generation: str, *, keep: int = 2) -> None:
        """Point CURRENT at ``generation`` atomically, then drop all but the newest ``keep``."""
        tmp = self.root / "CURRENT.tmp"
        tmp.write_text(generation, encoding="utf-8")
        os.replace(tmp, self.root / "CURRENT")
        generations = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        for old in generations[:-keep]:
            if old != generation:
                shutil.rmtree(self.root / old, ignore_errors=True)

    @staticmethod
    def bulk_writer(ix: whoosh_index.FileIndex, expected_documents: int):
        """A writer for filling a fresh generation: large builds use two processes (one segment
        each — the searchers read segments as they are), small ones stay in this process."""
        procs = min(2, os.cpu_count() or 1)
        if expected_documents >= BULK_PARALLEL_FROM and procs > 1:
            return ix.writer(procs=procs, multisegment=True, limitmb=256)
        return ix.writer(limitmb=256)

    def open(self) -> whoosh_index.FileIndex:
        return self.open_current()[1]

    def open_current(self) -> tuple[str, whoosh_index.FileIndex]:
        """(generation, its index), CURRENT read once per attempt so the two always agree."""
        for attempt in range(OPEN_ATTEMPTS):
            generation = self.current_generation()
            problem = self.problem(generation=generation)
            if problem:
                raise IndexCorrupt(problem) if problem.startswith("corrupt") else IndexUnavailable(problem)
            try:
                # no mmap: a segment file truncated under a mapped reader kills the process with
                # SIGBUS (seen in tests/indexer/test_integrity.py); plain reads raise instead
                storage = FileStorage(str(self.root / generation), supports_mmap=False)
                return generation, storage.open_index()
            except FileNotFoundError as exc:
                # the writer committed between Whoosh listing the TOC files and reading the newest
                # (or a rebuild switched generations): open again; past a few tries, the files are gone
                if attempt == OPEN_ATTEMPTS - 1:
                    raise self.corrupt(generation, f"files missing: {exc.filename}") from exc
                time.sleep(0.01 * (attempt + 1))
            except READ_ERRORS as exc:
                raise self.corrupt(generation, exc) from exc
        raise AssertionError("unreachable")

    # -- searching --------------------------------------------------------------------------

    @_guarded
    def searcher(self):
        """This thread's searcher, reopened when the generation changed or new commits exist."""
        state: _ThreadSearcher | None = getattr(self._local, "state", None)
        now = time.monotonic()
        if state is not None and now - state.checked_at < RECHECK_SECONDS:
            return state.searcher
        generation = self.current_generation()
        if (state is not None and state.generation == generation and state.searcher.up_to_date()
                and integrity.corrupt_reason(self.root / generation) is None
                and self._file_sizes(generation) == state.files):
            state.checked_at = now
            return state.searcher
        # otherwise reopen: a generation marked damaged by another process is refused there, and
        # a file changed under this searcher (truncated, replaced) is read again and found out
        if state is not None:
            state.searcher.close()
            self._local.state = None
        generation, ix = self.open_current()
        searcher = ix.searcher(weighting=BM25F())
        self._local.state = _ThreadSearcher(generation, searcher, now, self._file_sizes(generation))
        return searcher

    def _file_sizes(self, generation: str) -> dict[str, int]:
        try:
            with os.scandir(self.root / generation) as entries:
                return {e.name: e.stat().st_size for e in entries
                        if e.name not in integrity.UNCHECKED and e.is_file()}
        except FileNotFoundError:
            return {}

    def key_terms(self, searcher, tokens: list[str]) -> list[tuple[str, float, int]]:
        """(term, weight, document frequency) for the query: every term of a short draft; for a
        long one the best LONG_QUERY_TERMS by query tf × idf among terms in ≥ MIN_DF_LONG documents."""
        counts = Counter(tokens)
        n_docs = max(searcher.doc_count(), 1)
        leaves = self._leaves()
        scored = []
        for term, tf in counts.items():
            # a term dictionary look-up per field and segment, remembered for every thread
            df = max(doc_frequency(leaves, "title", term), doc_frequency(leaves, "body", term))
            if df == 0:
                continue
            scored.append((tf * math.log(1 + n_docs / df), df, term, tf))
        if len(scored) > SHORT_QUERY_TERMS:
            frequent = [s for s in scored if s[1] >= MIN_DF_LONG]
            scored = sorted(frequent or scored, reverse=True)[:LONG_QUERY_TERMS]
        return [(term, 1.0 + math.log(tf), df) for _, df, term, tf in scored]

    @_guarded
    def query_tokens(self, text: str) -> list[str]:
        """``text`` tokenised for the generation this thread's searcher reads."""
        self.searcher()
        return self.tokens(text, self._local.state.generation)

    def similar(self, text: str, *, k: int = 10, filters: Filters | None = None,
                kind: str = "case") -> list[Hit]:
        """Documents most similar to a draft, best first."""
        return self.similar_to(self.query_tokens(text), k=k, filters=filters, kind=kind)

    @_guarded
    @_one_at_a_time
    def similar_to(self, tokens: list[str], *, k: int = 10, filters: Filters | None = None,
                   kind: str = "case") -> list[Hit]:
        """Documents of ``kind`` most similar to a draft's tokens (from ``query_tokens``), best
        first. ``filters`` are applied inside the query (a value or a list of allowed values), so
        nothing filtered out is ever scored, counted or returned.

        Two phases keep it fast without losing the common words' evidence: candidates come from
        the discriminating terms (document frequency ≤ max(COMMON_DF_RATIO of the index,
        MIN_COMMON_DF); the rarest two when all are common), scored over all documents; then
        the common terms' exact BM25F contributions are added to those candidates only. Scoring
        every document of a common word's long posting list is what made the naive query cost
        100s of ms. Postings are read and scored with numpy (``indexer.postings``)."""
        searcher = self.searcher()
        terms = self.key_terms(searcher, tokens)
        if not terms:
            return []
        limit = max(k * CANDIDATE_FACTOR, MIN_CANDIDATES)
        cut = max(COMMON_DF_RATIO * searcher.doc_count(), MIN_COMMON_DF)
        rare = [t for t in terms if t[2] <= cut] or sorted(terms, key=lambda t: t[2])[:2]
        common = [t for t in terms if t not in rare]
        leaves = self._leaves()

        def weighted(selected):
            return [(field, term, boost * weight) for term, weight, _ in selected for field, boost in FIELD_BOOSTS.items()]

        mask, allowed_docs = self._allowed(searcher, leaves, {**(filters or {}), "kind": kind})
        if mask is not None:
            if len(allowed_docs) <= min(SELECTIVE_FILTER_DOCS, SELECTIVE_FILTER_SHARE * len(mask)):
                # few documents may match (articles among 100k cases, a small product): score
                # every term on just those, exactly, instead of every posting of the index
                if not len(allowed_docs):
                    return []
                totals = bm25f_for(searcher, leaves, weighted(terms), allowed_docs)
                best = [i for i in np.argsort(-totals, kind="stable")[:k] if totals[i] > 0]
                return _hits(searcher, leaves, kind, allowed_docs[best], totals[best])
        scores = bm25f(searcher, leaves, weighted(rare))
        candidates = top(scores, limit, mask)
        if len(candidates) < k and common:
            # the filters left too few documents with a discriminating term: score the common terms
            # over every document as well (exact, just slower)
            scores += bm25f(searcher, leaves, weighted(common))
            candidates, common = top(scores, limit, mask), []
        if not candidates:
            return []
        docs = np.fromiter((d for d, _ in candidates), dtype=np.int64, count=len(candidates))
        totals = np.fromiter((s for _, s in candidates), dtype=np.float64, count=len(candidates))
        if common:
            totals += bm25f_for(searcher, leaves, weighted(common), docs)
        best = np.argsort(-totals, kind="stable")[:k]
        return _hits(searcher, leaves, kind, docs[best], totals[best])

    def _allowed(self, searcher, leaves: list[Segment], conditions: dict
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``allowed`` and the documents it allows, remembered per searcher: a desk's suggestions
        repeat a few filter sets (cases of a product, articles of a reader's audiences), and a
        new commit opens a new searcher, so a mask never outlives the documents it was computed
        for."""
        state: _ThreadSearcher = self._local.state
        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in conditions.items()))
        if key not in state.masks:
            if len(state.masks) >= MASKS_PER_SEARCHER:
                state.masks.pop(next(iter(state.masks)))
            mask = allowed(searcher, leaves, conditions)
            state.masks[key] = (mask, None if mask is None else np.flatnonzero(mask))
        return state.masks[key]

    def _leaves(self) -> Leaves:
        """The segments of this thread's searcher with their field lengths (computed once per searcher)."""
        state: _ThreadSearcher = self._local.state
        if state.leaves is None:
            directory = self.root / state.generation
            state.leaves = segments(state.searcher, TEXT_FIELDS, self._segment_cache, state.generation,
                                    lambda segment_id: packed.load(directory, segment_id))
        return state.leaves

    def search(self, text: str, *, offset: int = 0, limit: int = 20, filters: Filters | None = None,
               kind: str = "case") -> tuple[list[Hit], int]:
        return self.search_tokens(self.query_tokens(text), offset=offset, limit=limit, filters=filters, kind=kind)

    @_guarded
    @_one_at_a_time
    def search_tokens(self, tokens: list[str], *, offset: int = 0, limit: int = 20, filters: Filters | None = None,
                      kind: str = "case") -> tuple[list[Hit], int]:
        """Full-text search over the text fields of ``kind``; every token counts (no key-term cut),
        scored exactly with BM25F. Filters are part of the query, so the total counts only what
        the caller may see."""
        searcher = self.searcher()
        distinct = list(dict.fromkeys(tokens))[:64]
        if not distinct:
            return [], 0
        leaves = self._leaves()
        weighted = [(field, t, SEARCH_BOOSTS[field]) for t in distinct for field in TEXT_FIELDS
                    if doc_frequency(leaves, field, t)]
        scores = bm25f(searcher, leaves, weighted)
        mask, _ = self._allowed(searcher, leaves, {**(filters or {}), "kind": kind})
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        matched = np.flatnonzero(scores > 0)
        page = matched[np.argsort(-scores[matched], kind="stable")][offset: offset + limit]
        return _hits(searcher, leaves, kind, page, scores[page]), len(matched)

    @_guarded
    def stored_versions(self) -> dict[tuple[str, int], str | None]:
        """(kind, entity id) → the ``updated_at`` stored with each document, for reconcile."""
        with self.open().searcher() as searcher:
            return {(f.get("kind"), int(f["entity_id"])): f.get("updated_at") for f in searcher.all_stored_fields()}

    def verify(self) -> str | None:
        """Why the current generation can't be used, checking its files against their
        checksums too (a mismatch marks it damaged), or None when it is sound."""
        generation = self.current_generation()
        problem = self.problem(generation=generation)
        if problem is None:
            problem = integrity.verify(self.directory(generation))
            if problem is not None:
                self.corrupt(generation, problem)
        return problem

    def stats(self) -> dict:
        generation = self.current_generation()
        try:
            meta = {k: v for k, v in (self.meta() or {}).items() if k != "dictionary"}
        except IndexCorrupt:
            meta = {}
        out = {"generation": generation, "meta": meta, "problem": self.problem(), "documents": None}
        if out["problem"] is None:        # this thread's long-lived searcher: opening one costs ~1 ms
            try:
                out["documents"] = self.searcher().doc_count()
            except IndexUnavailable as exc:
                out["problem"] = str(exc)
        return out

    def close(self) -> None:
        state = getattr(self._local, "state", None)
        if state is not None:
            state.searcher.close()
            self._local.state = None
