"""Scoring a trained bundle from precomputed arrays.

Same numbers as ``features.transform`` + ``predict_proba`` (tests assert it), without
scikit-learn's per-call validation and sparse-matrix construction: the text is analysed
once, each token is looked up in a dict, and the decision values are sums of rows of
a dense coefficient matrix. This is what makes a proposal cost a fraction of a
millisecond while the agent types."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from classifier.char_tfidf import ngram_code, text_ngram_codes
from kb.privacy import PLACEHOLDERS
from kb.text.segment import Segmenter


# redaction placeholders ([手机号] …) are in every text that had a contact: they say nothing about the case
_PLACEHOLDER_WORDS = tuple(p.strip("[]") for p in PLACEHOLDERS.values())


def _explains(feature: str) -> bool:
    """Whether a feature means something to an agent as a reason: not a bare number or symbol, not a
    redaction placeholder."""
    if not any(ch.isalpha() for ch in feature):
        return False
    return not any(word in feature for word in _PLACEHOLDER_WORDS)


def _shown(feature: str) -> bool:
    """Whether a feature may be shown as a driver: ``_explains``, and not a single Chinese
    character (one character explains nothing to a person)."""
    return (len(feature) >= 2 or feature.isascii()) and _explains(feature)


@dataclass(frozen=True)
class _Block:
    vocab: dict[str, int]
    idf: np.ndarray
    offset: int


@dataclass(frozen=True)
class _CodeBlock:
    """The character block's vocabulary as sorted integer codes: lookups are one vectorised
    binary search instead of a few hundred dict probes into a large table."""

    codes: np.ndarray      # sorted uint64
    columns: np.ndarray    # feature column of each code
    idf: np.ndarray
    offset: int


@dataclass(frozen=True)
class _Head:
    classes: tuple[str, ...]
    coef: np.ndarray        # (n_features, n_classes_or_1)
    intercept: np.ndarray
    a: np.ndarray           # sigmoid calibration per column
    b: np.ndarray
    columns: slice = field(default_factory=lambda: slice(None))    # this head's columns in ``CompiledModel.coef``


@dataclass(frozen=True)
class Scored:
    proba: np.ndarray
    contributions: list[tuple[str, float]]   # top features for the winning class


class CompiledModel:
    def __init__(self, bundle) -> None:
        words = bundle.features.transformer_list[0][1]
        chars = bundle.features.transformer_list[1][1]
        self.n_min, self.n_max = chars.analyzer.n_min, chars.analyzer.n_max
        self.words = _Block({str(k): int(v) for k, v in words.vocabulary_.items()}, words.idf_.astype(np.float64), 0)
        grams = list(chars.vocabulary_.items())
        codes = np.array([ngram_code(g) for g, _ in grams], dtype=np.uint64)
        order = np.argsort(codes)
        self.chars = _CodeBlock(codes[order], np.array([c for _, c in grams], dtype=np.int64)[order],
                                chars.idf_.astype(np.float64), len(words.vocabulary_))
        n_features = len(words.vocabulary_) + len(chars.vocabulary_)
        # a plain list: indexing it is much cheaper than numpy string scalars on the hot path
        self.feature_names = [str(n) for n in words.get_feature_names_out()] + [
            str(n) for n in chars.get_feature_names_out()]
        # which features may be named as a reason, decided once instead of per proposal
        self.explainable = np.fromiter(map(_shown, self.feature_names), dtype=bool, count=n_features)
        heads = {name: _compile_head(head, n_features) for name, head in bundle.heads.items()}
        # every head's coefficients side by side: a proposal gathers its features' rows once
        self.coef = np.hstack([h.coef for h in heads.values()]) if heads else np.zeros((n_features, 0))
        self.heads, start = {}, 0
        for name, h in heads.items():
            width = h.coef.shape[1]
            self.heads[name] = replace(h, coef=self.coef[:, start:start + width], columns=slice(start, start + width))
            start += width

    def features(self, segmenter: Segmenter, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, tf-idf values) of the shared feature vector, each block l2-normalised
        (sublinear tf × idf, as TfidfVectorizer(sublinear_tf=True) computes it)."""
        return self.features_of_normalized(segmenter, segmenter.normalize(text))

    def features_of_normalized(self, segmenter: Segmenter, norm: str) -> tuple[np.ndarray, np.ndarray]:
        cols, vals = [], []
        get = self.words.vocab.get
        word_counts: dict[int, int] = {}
        for tok in segmenter.tokens(norm, "classify"):
            j = get(tok)
            if j is not None:
                word_counts[j] = word_counts.get(j, 0) + 1
        if word_counts:
            n = len(word_counts)
            self._append(cols, vals, np.fromiter(word_counts, dtype=np.int64, count=n),
                         np.fromiter(word_counts.values(), dtype=np.float64, count=n), self.words.idf, 0)
        codes = text_ngram_codes(norm, self.n_min, self.n_max)
        if len(codes):
            block = self.chars
            # sorted, distinct queries: numpy's binary search reuses the previous bound, which
            # keeps the walk over the large vocabulary array cache-friendly
            codes, counts = np.unique(codes, return_counts=True)
            pos = np.searchsorted(block.codes, codes)
            pos[pos == len(block.codes)] = 0
            hit = block.codes[pos] == codes
            if hit.any():
                self._append(cols, vals, block.columns[pos[hit]], counts[hit], block.idf, block.offset)
        if not cols:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return np.concatenate(cols), np.concatenate(vals)

    @staticmethod
    def _append(cols: list, vals: list, unique: np.ndarray, counts: np.ndarray, idf: np.ndarray, offset: int) -> None:
        weights = (1.0 + np.log(counts)) * idf[unique]
        weights /= np.sqrt(weights @ weights)
        cols.append(unique + offset)
        vals.append(weights)

    def score(self, head: str, cols: np.ndarray, vals: np.ndarray, *, explain: int = 0) -> Scored:
        h = self.heads[head]
        rows = h.coef[cols]                                  # (k, n_cols)
        return self._scored(h, vals @ rows + h.intercept if len(cols) else h.intercept.copy(), rows, cols, vals,
                            explain)

    def score_all(self, cols: np.ndarray, vals: np.ndarray, *, explain: int = 0) -> dict[str, Scored]:
        """Every head, from one gather of the features' coefficient rows (``score`` per head
        gathered them once per head)."""
        rows = self.coef[cols]                               # (k, all heads' columns)
        decision = vals @ rows if len(cols) else np.zeros(self.coef.shape[1])
        return {name: self._scored(h, decision[h.columns] + h.intercept, rows[:, h.columns], cols, vals, explain)
                for name, h in self.heads.items()}

    def _scored(self, h: _Head, decision: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                explain: int) -> Scored:
        calibrated = 1.0 / (1.0 + np.exp(h.a * decision + h.b))
        if len(h.classes) == 2:
            proba = np.array([1.0 - calibrated[0], calibrated[0]])
        else:
            total = calibrated.sum()
            proba = calibrated / total if total > 0 else np.full(len(h.classes), 1.0 / len(h.classes))
        contributions: list[tuple[str, float]] = []
        if explain and len(cols):
            k = int(proba.argmax())
            column = 0 if len(h.classes) == 2 else k
            sign = -1.0 if (len(h.classes) == 2 and k == 0) else 1.0
            contrib = sign * vals * rows[:, column]
            shown = np.flatnonzero((contrib > 0) & self.explainable[cols])
            top = min(explain * 3, len(shown))
            if top < len(shown):
                shown = shown[np.argpartition(-contrib[shown], top - 1)[:top]]
            merged: dict[str, float] = {}
            names = self.feature_names
            for idx in shown[np.argsort(-contrib[shown])].tolist():
                name = names[int(cols[idx])]
                merged[name] = merged.get(name, 0.0) + float(contrib[idx])
            contributions = sorted(merged.items(), key=lambda kv: -kv[1])[:explain]
        return Scored(proba, contributions)


def _compile_head(head, n_features: int) -> _Head:
    """CalibratedClassifierCV(LinearSVC, method="sigmoid") with one calibrated classifier → arrays."""
    if len(head.calibrated_classifiers_) != 1:
        raise ValueError("only ensemble=False calibrated heads can be compiled")
    cc = head.calibrated_classifiers_[0]
    svc = getattr(cc.estimator, "estimator", cc.estimator)      # unwrap FrozenEstimator (holdout calibration)
    coef = np.asarray(svc.coef_, dtype=np.float64).T.copy()       # (n_features, n_cols)
    if coef.shape[0] != n_features:
        raise ValueError("head and features disagree on the feature count")
    a = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
    b = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
    return _Head(tuple(str(c) for c in head.classes_), coef, np.asarray(svc.intercept_, dtype=np.float64), a, b)
