"""Scoring a trained bundle from precomputed arrays.

Same numbers as ``features.transform`` + ``predict_proba`` (tests assert it), without
scikit-learn's per-call validation and sparse-matrix construction: the text is analysed
once, each token is looked up in a dict, and the decision values are sums of rows of
a dense coefficient matrix. This is what makes a proposal cost a fraction of a
millisecond while the agent types."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from kb.text.segment import Segmenter, char_ngrams


@dataclass(frozen=True)
class _Block:
    vocab: dict[str, int]
    idf: np.ndarray
    offset: int


@dataclass(frozen=True)
class _Head:
    classes: tuple[str, ...]
    coef: np.ndarray        # (n_features, n_classes_or_1)
    intercept: np.ndarray
    a: np.ndarray           # sigmoid calibration per column
    b: np.ndarray


@dataclass(frozen=True)
class Scored:
    proba: np.ndarray
    contributions: list[tuple[str, float]]   # top features for the winning class


class CompiledModel:
    def __init__(self, bundle) -> None:
        words = bundle.features.transformer_list[0][1]
        chars = bundle.features.transformer_list[1][1]
        self.n_min, self.n_max = chars.analyzer.n_min, chars.analyzer.n_max
        self.words = _Block(dict(words.vocabulary_), words.idf_.astype(np.float64), 0)
        self.chars = _Block(dict(chars.vocabulary_), chars.idf_.astype(np.float64), len(words.vocabulary_))
        n_features = len(words.vocabulary_) + len(chars.vocabulary_)
        self.feature_names = np.concatenate([words.get_feature_names_out(), chars.get_feature_names_out()])
        self.heads = {name: _compile_head(head, n_features) for name, head in bundle.heads.items()}

    def features(self, segmenter: Segmenter, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, tf-idf values) of the shared feature vector, each block l2-normalised."""
        norm = segmenter.normalize(text)
        cols: list[int] = []
        vals: list[float] = []
        for block, tokens in ((self.words, segmenter.tokens(norm, "classify")),
                              (self.chars, char_ngrams(norm, self.n_min, self.n_max))):
            start = len(vals)
            for tok, count in Counter(tokens).items():
                j = block.vocab.get(tok)
                if j is not None:
                    cols.append(block.offset + j)
                    vals.append((1.0 + math.log(count)) * block.idf[j])
            norm2 = math.sqrt(sum(v * v for v in vals[start:]))
            if norm2 > 0:
                for i in range(start, len(vals)):
                    vals[i] /= norm2
        return np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float64)

    def score(self, head: str, cols: np.ndarray, vals: np.ndarray, *, explain: int = 0) -> Scored:
        h = self.heads[head]
        rows = h.coef[cols]                                  # (k, n_cols)
        decision = vals @ rows + h.intercept if len(cols) else h.intercept.copy()
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
            merged: dict[str, float] = {}
            for idx in np.argsort(-contrib)[: explain * 3]:
                if contrib[idx] <= 0:
                    break
                name = str(self.feature_names[cols[idx]])
                if len(name) < 2 and not name.isascii():
                    continue            # single characters explain nothing to a person
                merged[name] = merged.get(name, 0.0) + float(contrib[idx])
            contributions = sorted(merged.items(), key=lambda kv: -kv[1])[:explain]
        return Scored(proba, contributions)


def _compile_head(head, n_features: int) -> _Head:
    """CalibratedClassifierCV(LinearSVC, method="sigmoid", ensemble=False) → arrays."""
    if len(head.calibrated_classifiers_) != 1:
        raise ValueError("only ensemble=False calibrated heads can be compiled")
    cc = head.calibrated_classifiers_[0]
    svc = cc.estimator
    coef = np.asarray(svc.coef_, dtype=np.float64).T.copy()       # (n_features, n_cols)
    if coef.shape[0] != n_features:
        raise ValueError("head and features disagree on the feature count")
    a = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
    b = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
    return _Head(tuple(str(c) for c in head.classes_), coef, np.asarray(svc.intercept_, dtype=np.float64), a, b)
