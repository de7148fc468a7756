"""Resolved cases' LSA vectors precomputed on disk: one store per node and representation.

Why: the semantic re-rank (``classifier.semantic``) needs the vector of each of a suggestion's
100 lexical candidates. Computed on the request path — read the candidates' texts, normalise,
look up n-grams, project — that cost ~5–13 ms per suggestion once the candidates vary, which
is most of the time at 100k cases (the per-process LRU rarely hits), and it halved a worker's
capacity (bench/write_load.py). The store holds every indexable case's vector, written by the
node's background process (``api.vector_keeper``) and memory-mapped read-only by every web
worker: the page cache keeps one copy per machine, and a lookup is a binary search and a
gather.

A row is used only when its case's ``updated_at`` is the one the suggestion just read from
the database: a case edited or resolved after the store was written misses, and the caller
computes that vector as before. So the store can lag; it is never wrong.

Each row also holds the case's literal vector (``SemanticModel.literal``, the sparse character
TF-IDF vector the blend compares), concatenated: ``grams`` (uint16 columns), ``gram_weights``
(float16) and ``gram_ends`` (where each row's part ends). A build written before these files
existed does not open, and the keeper writes a new one.

Layout: ``<root>/<representation version>/<build>/{ids,stamps,prints,vectors,grams,gram_weights,
gram_ends}.npy`` and
``<root>/<representation version>/CURRENT`` naming the build in use (replaced atomically)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from classifier.semantic import Grams, GramRows, SemanticModel, fingerprint
from kb.text import Segmenter

CURRENT = "CURRENT"
RECHECK_SECONDS = 5.0          # how often a reader looks for a newer build
_FILES = ("ids", "stamps", "prints", "vectors", "grams", "gram_weights", "gram_ends")


def stamp(at: datetime) -> int:
    """A case's ``updated_at`` as integer microseconds since the epoch (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(round(at.timestamp() * 1_000_000))


@dataclass(frozen=True)
class Build:
    """One written store: sorted case ids with their update stamps, text fingerprints,
    float16 unit vectors and literal vectors (memory-mapped when opened from disk)."""

    name: str
    ids: np.ndarray            # int64, sorted
    stamps: np.ndarray         # int64
    prints: np.ndarray         # int64
    vectors: np.ndarray        # float16, len(ids) × dimensions
    grams: np.ndarray          # uint16, every row's literal columns one after the other
    gram_weights: np.ndarray   # float16, their weights
    gram_ends: np.ndarray      # int64, len(ids): where each row's part of grams ends

    def literal(self) -> GramRows:
        """Every row's literal vector (``take`` the rows wanted)."""
        return GramRows(self.grams, self.gram_weights, self.gram_ends)

    def lookup(self, ids: np.ndarray, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of each id, or -1 where the id is absent or its stamp differs)."""
        if len(self.ids) == 0 or len(ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64), np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self.ids, ids)
        pos[pos >= len(self.ids)] = 0
        ok = (self.ids[pos] == ids) & (self.stamps[pos] == stamps)
        return np.where(ok, pos, -1), ok


def _version_dir(root: Path, version: str) -> Path:
    return root / version


def current_name(root: Path, version: str) -> str | None:
    """The build ``<root>/<version>/CURRENT`` names, or None."""
    try:
        return (_version_dir(root, version) / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def read_build(root: Path, version: str, name: str | None = None) -> Build | None:
    """Build ``name`` (default: the current one), memory-mapped; None when there is none."""
    name = name or current_name(root, version)
    if name is None:
        return None
    try:
        # plain ndarray views of the mapping: a memmap's slices pay Python hooks on every lookup
        arrays = {f: np.load(_version_dir(root, version) / name / f"{f}.npy", mmap_mode="r").view(np.ndarray)
                  for f in _FILES}
    except (ValueError, OSError):
        return None
    return Build(name, **arrays)


def write_build(root: Path, model: SemanticModel, ids: np.ndarray, stamps: np.ndarray,
                texts_of, segmenter: Segmenter, previous: Build | None = None, *, chunk: int = 2000) -> Build:
    """Write a build for ``ids`` (sorted) and make it current. Rows whose id and stamp are in
    ``previous`` are copied; only the others are embedded (``texts_of(ids)`` returns their
    texts in order). Older builds but the previous one are removed (a reader may still map it)."""
    directory = _version_dir(root, model.version)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():x}-{os.getpid()}"
    tmp = directory / f".{name}"
    tmp.mkdir()
    n, dims = len(ids), model.projection.shape[1]
    vectors = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float16, shape=(n, dims))
    prints = np.zeros(n, dtype=np.int64)
    fresh: list[Grams] = []                    # literal vectors of the cases embedded now, in ``todo`` order
    todo = np.arange(n)
    copied = np.zeros(0, dtype=np.int64)
    if previous is not None and n:
        rows, found = previous.lookup(ids, stamps)
        copied = np.flatnonzero(found)
        vectors[copied] = previous.vectors[rows[copied]]
        prints[copied] = previous.prints[rows[copied]]
        todo = np.flatnonzero(~found)
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        texts = texts_of(ids[part].tolist())
        embedded, grams = model.represent(texts, segmenter)
        vectors[part] = embedded.astype(np.float16)
        prints[part] = [fingerprint(t, segmenter) for t in texts]
        fresh.extend(grams)
    vectors.flush()
    del vectors
    # the literal vectors in row order: the copied rows, then the embedded ones, put in place by one gather
    kept = previous.literal().take(rows[copied]) if len(copied) else GramRows.of([])
    literal = GramRows.joined([kept, GramRows.of(fresh)]).take(np.argsort(np.concatenate([copied, todo])))
    del kept, fresh
    np.save(tmp / "ids.npy", np.asarray(ids, dtype=np.int64))
    np.save(tmp / "stamps.npy", np.asarray(stamps, dtype=np.int64))
    np.save(tmp / "prints.npy", prints)
    np.save(tmp / "gram_ends.npy", literal.ends)
    np.save(tmp / "grams.npy", literal.columns)
    np.save(tmp / "gram_weights.npy", literal.weights)
    del literal
    tmp.rename(directory / name)
    pointer = directory / f".{CURRENT}.{name}"
    pointer.write_text(name, encoding="utf-8")
    os.replace(pointer, directory / CURRENT)
    keep = {name, previous.name if previous is not None else None}
    for old in directory.iterdir():
        unfinished = old.name.startswith(".")          # another writer's, or a crashed one's after an hour
        if old.is_dir() and old.name not in keep and (not unfinished or time.time() - old.stat().st_mtime > 3600):
            shutil.rmtree(old, ignore_errors=True)
    return read_build(root, model.version)


class VectorStore:
    """A web worker's view of the node's stores: the current build of a representation,
    looked for again every ``RECHECK_SECONDS``. Thread-safe."""

    def __init__(self, root: Path, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.root = root
        self.recheck_seconds = recheck_seconds
        self._builds: dict[str, tuple[float, Build | None]] = {}
        self._lock = threading.Lock()

    def build(self, version: str) -> Build | None:
        now = time.monotonic()
        checked = self._builds.get(version)
        if checked is not None and now - checked[0] < self.recheck_seconds:
            return checked[1]
        with self._lock:
            checked = self._builds.get(version)
            if checked is not None and now - checked[0] < self.recheck_seconds:
                return checked[1]
            current = checked[1] if checked else None
            name = current_name(self.root, version)
            if name is None:
                current = None
            elif current is None or current.name != name:
                current = read_build(self.root, version, name)
            if len(self._builds) > 4:              # representations come and go with promotions
                self._builds.clear()
            self._builds[version] = (now, current)
            return current

    def lookup(self, version: str, ids: list[int], stamps: list[int],
               ) -> tuple[np.ndarray, np.ndarray, GramRows, np.ndarray]:
        """(vectors as float32, fingerprints, literal vectors of the found rows in order, found
        mask) for candidates; vectors and fingerprints of rows not found are zero."""
        build = self.build(version)
        n = len(ids)
        if build is None:
            return np.zeros((n, 0), np.float32), np.zeros(n, np.int64), GramRows.of([]), np.zeros(n, dtype=bool)
        rows, found = build.lookup(np.asarray(ids, dtype=np.int64), np.asarray(stamps, dtype=np.int64))
        vectors = np.zeros((n, build.vectors.shape[1]), dtype=np.float32)
        prints = np.zeros(n, dtype=np.int64)
        if found.any():
            vectors[found] = build.vectors[rows[found]]
            prints[found] = build.prints[rows[found]]
        literal = build.literal().take(rows[found])
        return vectors, prints, literal, found
