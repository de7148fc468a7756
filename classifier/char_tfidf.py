"""Character n-gram TF-IDF fitted from integer codes.

Why: ``TfidfVectorizer`` counts n-grams one Python string at a time. On 40,000 reviews the
character 1–3-grams were 6 M strings: building the lists and counting them took 9–20 s of a
training, more than the classifier heads. Here every n-gram is one integer (21 bits per code
point, ``ngram_code``), a text's codes come from one vectorised pass, and the counts matrix
is one ``np.unique`` and one sparse sum — then scikit-learn's ``TfidfTransformer`` weighs it
exactly as ``TfidfVectorizer(sublinear_tf=True)`` would (same idf, same l2 norm). The fitted
result is handed back as a fixed-vocabulary ``TfidfVectorizer`` whose ``idf_`` is set through
its public setter, so bundles, the compiled scorer and the scikit-learn path see nothing new.
``tests/classifier/test_char_tfidf.py`` checks the matrix against ``TfidfVectorizer``'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

_SHIFT = np.uint64(21)
_SPACE = np.uint64(ord(" ") + 1)
_FIELD = (1 << 21) - 1


def ngram_code(gram: str) -> int:
    """A character n-gram (n ≤ 3) as one integer: 21 bits per code point (+1, so shorter
    n-grams have leading zero fields and never collide with longer ones)."""
    code = 0
    for ch in gram:
        code = (code << 21) | (ord(ch) + 1)
    return code


def ngram_of(code: int) -> str:
    """The n-gram ``ngram_code`` made ``code`` from."""
    chars = []
    while code:
        chars.append(chr((code & _FIELD) - 1))
        code >>= 21
    return "".join(reversed(chars))


def text_ngram_codes(normalized: str, n_min: int, n_max: int) -> np.ndarray:
    """Codes of exactly the n-grams ``kb.text.segment.char_ngrams`` yields (none across a space)."""
    cps = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)
    parts = []
    for n in range(n_min, n_max + 1):
        if len(cps) < n:
            break
        m = len(cps) - n + 1
        code = cps[:m].copy()
        ok = code != _SPACE
        for k in range(1, n):
            nxt = cps[k:k + m]
            code = (code << _SHIFT) | nxt
            ok &= nxt != _SPACE
        parts.append(code[ok])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


def _codes_of(normalized: list[str], n_min: int, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(every n-gram code of every text, the text each came from)."""
    per_text = [text_ngram_codes(t, n_min, n_max) for t in normalized]
    lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    codes = np.concatenate(per_text) if per_text else np.empty(0, dtype=np.uint64)
    return codes, np.repeat(np.arange(len(per_text)), lengths)


@dataclass
class CharTfidf:
    """A fitted character n-gram TF-IDF: the vocabulary as sorted codes, column i holding the
    n-gram of ``codes[i]``."""

    n_min: int
    n_max: int
    codes: np.ndarray           # sorted uint64
    transformer: TfidfTransformer
    dtype: type

    def counts(self, normalized: list[str]) -> sp.csr_matrix:
        codes, docs = _codes_of(normalized, self.n_min, self.n_max)
        pos = np.searchsorted(self.codes, codes)
        pos[pos == len(self.codes)] = 0
        hit = self.codes[pos] == codes if len(self.codes) else np.zeros(len(codes), dtype=bool)
        matrix = sp.csr_matrix((np.ones(int(hit.sum()), dtype=self.dtype), (docs[hit], pos[hit])),
                               shape=(len(normalized), len(self.codes)))
        matrix.sum_duplicates()
        return matrix

    def transform(self, normalized: list[str]) -> sp.csr_matrix:
        """TF-IDF rows of texts already normalised (``Segmenter.normalize``)."""
        return self.transformer.transform(self.counts(normalized)).astype(self.dtype, copy=False)

    @property
    def vocabulary(self) -> dict[str, int]:
        return {ngram_of(c): j for j, c in enumerate(self.codes.tolist())}

    def vectorizer(self, analyzer) -> TfidfVectorizer:
        """The same weighting as a fitted ``TfidfVectorizer`` over raw text (``analyzer``
        normalises and cuts the n-grams), for bundles and the scikit-learn path."""
        vec = TfidfVectorizer(analyzer=analyzer, vocabulary=self.vocabulary, sublinear_tf=True, dtype=self.dtype)
        vec.idf_ = self.transformer.idf_       # public setter: also fixes the vocabulary (a copy)
        vec.vocabulary = vec.vocabulary_       # one dict, so a saved bundle holds it once
        return vec


def fit_char_tfidf(normalized: list[str], n_min: int, n_max: int, *, min_df: int = 1,
                   max_features: int | None = None, dtype: type = np.float64) -> tuple[CharTfidf, sp.csr_matrix]:
    """Fit on texts already normalised and return the fitted block with the texts' TF-IDF
    rows. ``min_df`` and ``max_features`` (the most frequent n-grams over the whole corpus)
    mean what they mean in ``TfidfVectorizer``; columns are in code order."""
    codes, docs = _codes_of(normalized, n_min, n_max)
    vocab, inverse = np.unique(codes, return_inverse=True)
    counts = sp.csr_matrix((np.ones(len(codes), dtype=dtype), (docs, inverse.ravel())),
                           shape=(len(normalized), len(vocab)))
    counts.sum_duplicates()
    keep = np.bincount(counts.indices, minlength=len(vocab)) >= min_df
    if max_features is not None and int(keep.sum()) > max_features:
        total = np.asarray(counts.sum(axis=0)).ravel()
        total[~keep] = -1
        keep = np.zeros(len(vocab), dtype=bool)
        keep[np.argsort(-total, kind="stable")[:max_features]] = True
    kept = np.flatnonzero(keep)
    counts = counts[:, kept]
    transformer = TfidfTransformer(sublinear_tf=True).fit(counts)
    block = CharTfidf(n_min, n_max, vocab[kept], transformer, dtype)
    return block, transformer.transform(counts).astype(dtype, copy=False)
