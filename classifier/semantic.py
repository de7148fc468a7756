"""A representation of meaning without labels: LSA over character 1–2-gram TF-IDF, fitted on
the team's own cases when the classifier trains, saved in the same bundle (so it is
versioned with the text pipeline and the model registry, promoted and rolled back with it).

Why: similar-case search ranks by shared words (BM25F). A customer who words a problem
differently from the past case shares few words with it; in the 256-dimensional LSA space
"登不上" and "登录失败" land close because the characters around them co-occur across the
desk's history. The representation re-ranks the lexical candidates — it never finds
candidates on its own — by interpolating the normalised lexical score with the cosine
and with the *literal* cosine: the same character 1–2-gram TF-IDF vectors before the
projection (``literal``), compared sparse. BM25F rewards a long case that contains the draft's
words; the literal cosine asks how much of both texts they share, in the order-insensitive
way two rewordings of one question do, and the LSA cosine adds the characters that stand in
for each other (``blend``). Measured on the open splits (bench/similar_quality.py, the weight
grid in docs/search.md): MRR@10 on BQ dev 0.2508 lexical → 0.2587 with the LSA cosine →
0.2645 with both.

Serving does not go through scikit-learn: a text's n-grams are looked up in a dict, weighted
(sublinear tf × idf, L2-normalised, as TfidfVectorizer does) and the matching rows of the
projection summed — about 0.01 ms per candidate."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from classifier.char_tfidf import fit_char_tfidf
from kb.text import Segmenter
from kb.text.segment import char_ngrams

DIMENSIONS = 256
MAX_FEATURES = 30_000         # 30 MB of projection at 256 dimensions; the frequent n-grams carry the meaning
                              # (≤ 65,535: literal vectors store columns as uint16)
MIN_TEXTS = 50                 # below this the space says nothing; re-ranking is skipped
SVD_ROWS = 20_000              # the SVD is fitted on at most this many texts (measured: no MRR change, a third of the time)
WEIGHT = 0.2                   # share of the LSA cosine in the blended score (bench/similar_quality.py grid)
LITERAL_WEIGHT = 0.4           # share of the literal (character TF-IDF) cosine; the lexical score has the rest


@dataclass
class SemanticModel:
    vocabulary: dict[str, int]
    idf: np.ndarray            # float32, one per term
    projection: np.ndarray     # float32, terms × dimensions (SVD components transposed)
    text_version: str
    rows: int
    version: str = ""          # hash of the projection: the key of cached vectors

    def vectors_for(self, keys: list[Hashable], texts: Callable[[list[int]], list[str]], segmenter: Segmenter,
                    cache: VectorCache) -> tuple[np.ndarray, np.ndarray, list[Grams]]:
        """Unit vectors, text fingerprints (``fingerprint``) and literal vectors (``literal``)
        of candidates, kept in ``cache`` by key (a case id and its update time): a suggestion
        embeds — and reads the text of — only the candidates it has not seen before.
        ``texts(positions)`` returns the texts of the candidates at those positions."""
        found = cache.get([(self.version, k) for k in keys])
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            fresh_texts = texts(missing)
            vectors, grams = self.represent(fresh_texts, segmenter)
            prints = [fingerprint(t, segmenter) for t in fresh_texts]
            cache.put([(self.version, keys[i]) for i in missing], vectors, prints, grams)
            for i, v, p, g in zip(missing, vectors, prints, grams, strict=True):
                found[i] = (v, p, g)
        if not found:
            return np.zeros((0, self.projection.shape[1]), np.float32), np.zeros(0, np.int64), []
        return (np.vstack([v for v, _, _ in found]).astype(np.float32),
                np.array([p for _, p, _ in found], dtype=np.int64), [g for _, _, g in found])

    def embed(self, texts: list[str], segmenter: Segmenter) -> np.ndarray:
        """Unit vectors (n × dimensions), all texts in one sparse product; a text with no
        known n-gram is the zero vector."""
        return self._project([self._weights(t, segmenter) for t in texts])

    def literal(self, texts: list[str], segmenter: Segmenter) -> list[Grams]:
        """Each text's character TF-IDF vector before the projection, sparse and unit length:
        columns as uint16 (the vocabulary has at most MAX_FEATURES), weights as float16."""
        return [_grams(idx, weights) for idx, weights in (self._weights(t, segmenter) for t in texts)]

    def represent(self, texts: list[str], segmenter: Segmenter) -> tuple[np.ndarray, list[Grams]]:
        """``embed`` and ``literal`` of the same texts, each text's n-grams counted once."""
        parts = [self._weights(t, segmenter) for t in texts]
        return self._project(parts), [_grams(idx, weights) for idx, weights in parts]

    def _weights(self, text: str, segmenter: Segmenter) -> tuple[np.ndarray, np.ndarray]:
        """A text's known n-grams (vocabulary columns) and TF-IDF weights, sublinear tf × idf,
        not normalised."""
        vocab = self.vocabulary
        seen: dict[int, int] = {}
        for gram in char_ngrams(segmenter.normalize(text), 1, 2):
            j = vocab.get(gram)
            if j is not None:
                seen[j] = seen.get(j, 0) + 1
        idx = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
        weights = (1.0 + np.log(np.fromiter(seen.values(), dtype=np.float32, count=len(seen)))) * self.idf[idx]
        return idx, weights

    def _project(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Unit vectors of texts given as ``_weights``. One text (a draft) is a weighted sum of a
        few rows, no sparse matrix (the l2 norm of the TF-IDF row is left out: the result is
        scaled to unit length anyway); more are one sparse product."""
        dims = self.projection.shape[1]
        if len(parts) == 1:
            idx, weights = parts[0]
            if not len(idx):
                return np.zeros((1, dims), dtype=np.float32)
            v = weights @ self.projection[idx]
            norm = float(np.linalg.norm(v))
            return ((v / norm).astype(np.float32) if norm > 0 else np.zeros(dims, dtype=np.float32))[None, :]
        if not parts:
            return np.zeros((0, dims), dtype=np.float32)
        indptr = np.cumsum([0] + [len(idx) for idx, _ in parts])
        X = sp.csr_matrix((np.concatenate([w for _, w in parts]), np.concatenate([i for i, _ in parts]), indptr),
                          shape=(len(parts), len(self.idf)))
        V = np.asarray(X @ self.projection, dtype=np.float32)
        norms = np.linalg.norm(V, axis=1, keepdims=True)
        return np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)

    def literal_cosines(self, draft: Grams, candidates: list[Grams] | GramRows) -> np.ndarray:
        """The literal cosine of each candidate to the draft (0 for an empty vector)."""
        rows = candidates if isinstance(candidates, GramRows) else GramRows.of(candidates)
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        if not rows.ends[-1]:
            return np.zeros(len(rows), dtype=np.float32)
        dense = np.zeros(len(self.idf), dtype=np.float32)
        dense[draft.columns] = draft.weights
        products = dense[rows.columns].astype(np.float64) * rows.weights
        running = np.concatenate([[0.0], np.cumsum(products)])
        return (running[rows.ends] - running[rows.starts()]).astype(np.float32)


def _grams(idx: np.ndarray, weights: np.ndarray) -> Grams:
    """``_weights`` as a unit-length ``Grams``, columns sorted."""
    norm = float(np.linalg.norm(weights))
    order = np.argsort(idx)
    unit = weights[order] / norm if norm > 0 else weights[order]
    return Grams(idx[order].astype(np.uint16), unit.astype(np.float16))


@dataclass(frozen=True)
class Grams:
    """A sparse unit vector over the representation's n-gram vocabulary (``SemanticModel.literal``)."""

    columns: np.ndarray    # uint16, sorted
    weights: np.ndarray    # float16


@dataclass(frozen=True)
class GramRows:
    """Several literal vectors back to back, as the vector store keeps them: a batch is
    gathered and compared to a draft with a few array operations, not an object per row."""

    columns: np.ndarray    # uint16, row after row
    weights: np.ndarray    # float16
    ends: np.ndarray       # int64: where each row ends in ``columns``

    def __len__(self) -> int:
        return len(self.ends)

    def starts(self) -> np.ndarray:
        return np.concatenate([np.zeros(1, dtype=self.ends.dtype), self.ends[:-1]]) if len(self.ends) else self.ends

    def row(self, i: int) -> Grams:
        start = int(self.ends[i - 1]) if i else 0
        return Grams(self.columns[start:int(self.ends[i])], self.weights[start:int(self.ends[i])])

    def take(self, rows: np.ndarray) -> GramRows:
        """The given rows, in that order, as one batch (one vectorised gather)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.starts()[rows]
        lengths = self.ends[rows] - starts
        ends = np.cumsum(lengths)
        flat = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        return GramRows(self.columns[flat], self.weights[flat], ends)

    @classmethod
    def joined(cls, batches: list[GramRows]) -> GramRows:
        """The rows of ``batches`` one after the other, as one batch."""
        offsets = np.cumsum([0] + [int(b.ends[-1]) if len(b) else 0 for b in batches[:-1]])
        return cls(np.concatenate([b.columns for b in batches]).astype(np.uint16, copy=False),
                   np.concatenate([b.weights for b in batches]).astype(np.float16, copy=False),
                   np.concatenate([b.ends + o for b, o in zip(batches, offsets, strict=True)]).astype(np.int64))

    @classmethod
    def of(cls, grams: list[Grams]) -> GramRows:
        ends = np.cumsum([len(g.columns) for g in grams], dtype=np.int64)
        if not len(grams):
            return cls(np.zeros(0, np.uint16), np.zeros(0, np.float16), ends)
        return cls(np.concatenate([g.columns for g in grams]).astype(np.uint16, copy=False),
                   np.concatenate([g.weights for g in grams]).astype(np.float16, copy=False), ends)


class VectorCache:
    """A bounded LRU of (unit vector, text fingerprint, literal vector) — the vector stored as
    float16: 0.5 KB each at 256 dimensions and ~0.3 KB of literal vector for a short case, so the
    default 50,000 entries hold ~40 MB. Thread-safe; one per process."""

    def __init__(self, max_items: int = 50_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, keys: list[Hashable]) -> list[tuple[np.ndarray, int, Grams] | None]:
        with self._lock:
            out = []
            for k in keys:
                v = self._items.get(k)
                if v is not None:
                    self._items.move_to_end(k)
                out.append(v)
            return out

    def put(self, keys: list[Hashable], vectors: np.ndarray, prints: list[int], grams: list[Grams]) -> None:
        with self._lock:
            for k, v, p, g in zip(keys, vectors.astype(np.float16), prints, grams, strict=True):
                self._items[k] = (v, p, g)
                self._items.move_to_end(k)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def fit_semantic(texts: list[str], segmenter: Segmenter, *, dimensions: int = DIMENSIONS,
                 random_state: int = 0, svd_rows: int = SVD_ROWS,
                 normalized: list[str] | None = None) -> SemanticModel | None:
    """Fit on raw texts (no labels). None when there are too few texts to say anything.

    The vocabulary and idf come from every text; the SVD from an even random sample of at
    most ``svd_rows`` of them: its cost grows with the rows, while the directions it finds
    settle long before (AFQMC, 67,785 sentences: blend MRR@10 0.0448 from all rows and 0.0449
    from 20,000, the SVD in 1.7 s instead of 6.3 s; 50,000 reviews: 10.1 s → 3.0 s).
    ``normalized``: the texts after ``segmenter.normalize``, when the caller has them."""
    if len(texts) < MIN_TEXTS:
        return None
    if normalized is None:
        normalized = [segmenter.normalize(t) for t in texts]
    tfidf, X = fit_char_tfidf(normalized, 1, 2, min_df=2 if len(texts) >= 1000 else 1, max_features=MAX_FEATURES,
                              dtype=np.float32)
    if X.shape[0] > svd_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(X.shape[0], svd_rows, replace=False))
        X = X[rows]
    k = min(dimensions, X.shape[1] - 1, X.shape[0] - 1)
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=random_state).fit(X)
    projection = svd.components_.T.astype(np.float32).copy()
    digest = hashlib.sha256(projection.tobytes()).hexdigest()[:12]
    return SemanticModel(vocabulary=tfidf.vocabulary, idf=tfidf.transformer.idf_.astype(np.float32),
                         projection=projection,
                         text_version=segmenter.version, rows=len(texts), version=digest)


def fingerprint(text: str, segmenter: Segmenter) -> int:
    """The same request written again has the same fingerprint: the text after normalisation
    (script, width, case) without spaces — 我怎麼提升花唄的額度 and 我怎么提升花呗的额度."""
    digest = hashlib.blake2b("".join(segmenter.normalize(text).split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def blend(lexical: np.ndarray, cosine: np.ndarray, weight: float = WEIGHT, same: np.ndarray | None = None,
          literal: np.ndarray | None = None, literal_weight: float = LITERAL_WEIGHT) -> np.ndarray:
    """(1 − weight − literal_weight) · lexical / max(lexical) + weight · max(cosine, 0)
    + literal_weight · literal, + 1 for a candidate that is the draft's own text (``same``),
    which so comes first. Without ``literal``: (1 − weight) · lexical + weight · cosine."""
    top = float(lexical.max()) if len(lexical) else 0.0
    norm = lexical / top if top > 0 else lexical
    if literal is None:
        score = (1.0 - weight) * norm + weight * np.clip(cosine, 0.0, None)
    else:
        score = (1.0 - weight - literal_weight) * norm + weight * np.clip(cosine, 0.0, None) + literal_weight * literal
    return score + same if same is not None else score
