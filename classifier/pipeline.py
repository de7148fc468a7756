"""The scikit-learn pipeline: word TF-IDF (jieba) + character n-gram TF-IDF, shared by the
type and priority heads, each a LinearSVC with sigmoid-calibrated probabilities.

Chosen by evaluation (bench/classify_quality.py): char 1–3-grams carry short utterances,
words help long complaints; together with class balancing and calibration they beat
plain jieba TF-IDF + LinearSVC by 3–6 macro-F1 points on request_type and SMP2017."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from kb.text import CharNgramAnalyzer, JiebaAnalyzer

DEFAULT_PARAMS: dict[str, Any] = {
    "char_ngram": (1, 3),
    "char_min_df": "auto",     # 1 below 20k texts; 2 above (rare char n-grams only add fitting time)
    "word_min_df": 1,
    "C": 0.5,
    "class_weight": "balanced",
    "calibration_cv": 5,
    "random_state": 0,
    "n_jobs": 2,               # calibration folds fitted in parallel (the machines have 2 cores)
    "semantic": True,          # also fit the LSA representation that re-ranks similar cases (classifier.semantic)
}
AUTO_MIN_DF_ROWS = 20_000


def resolve_min_df(value, n_rows: int) -> int:
    if value == "auto":
        return 1 if n_rows < AUTO_MIN_DF_ROWS else 2
    return int(value)


def params_with(overrides: dict[str, Any] | None) -> dict[str, Any]:
    params = {**DEFAULT_PARAMS, **(overrides or {})}
    params["char_ngram"] = tuple(params["char_ngram"])
    return params


class PreTokenized:
    """Analyzer for documents that are already token lists (training analyses each text once;
    the fitted vectorizer then gets the real analyzer back). PERSISTED-SAFE: never saved."""

    def __call__(self, doc):
        return doc


def build_features(params: dict[str, Any], text_version: str, n_rows: int = 0) -> FeatureUnion:
    n_min, n_max = params["char_ngram"]
    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer=JiebaAnalyzer(text_version), sublinear_tf=True,
                                  min_df=params["word_min_df"], dtype=np.float64)),
        ("chars", TfidfVectorizer(analyzer=CharNgramAnalyzer(text_version, n_min, n_max), sublinear_tf=True,
                                  min_df=resolve_min_df(params["char_min_df"], n_rows), dtype=np.float64)),
    ])


def build_head(params: dict[str, Any], n_examples_smallest_class: int) -> CalibratedClassifierCV:
    cv = max(2, min(params["calibration_cv"], n_examples_smallest_class))
    svc = LinearSVC(C=params["C"], class_weight=params["class_weight"], random_state=params["random_state"])
    return CalibratedClassifierCV(svc, method="sigmoid", cv=cv, ensemble=False, n_jobs=params.get("n_jobs"))


def build_pipeline(params: dict[str, Any] | None, text_version: str, n_examples_smallest_class: int = 5) -> Pipeline:
    """Raw text in, label out: the single-head pipeline (notebooks, the sklearn comparison path)."""
    params = params_with(params)
    return Pipeline([("features", build_features(params, text_version)),
                     ("clf", build_head(params, n_examples_smallest_class))])
