"""Fit and evaluate: one shared feature space, a type head and a priority head.

Each text is analysed once (jieba words + character n-grams) and both vectorizers are
fitted on the token lists; the fitted vectorizers then get the real analyzers back, so
the saved pipeline takes raw text. Evaluation is a grouped time split (past → future, with
near-duplicates and one customer's cases kept on one side, classifier.dataset); the
calibration folds are grouped the same way. The per-label "suggest" and "auto-apply"
thresholds come from that held-out split at the configured target precisions. Histories under 20k cases are then refitted on all data;
larger ones keep the 80 % fit (as good, and refitting would double the training time)."""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, train_test_split
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from classifier.char_tfidf import CharTfidf, fit_char_tfidf
from classifier.dataset import Example, data_hash, grouped_time_split
from classifier.pipeline import PreTokenized, build_head, params_with, resolve_min_df
from classifier.ranker import RankerModel
from classifier.semantic import SemanticModel, fit_semantic
from kb.text import CharNgramAnalyzer, JiebaAnalyzer, Segmenter

HEADS = ("type", "priority")
HOLDOUT_CALIBRATION_ROWS = 20_000
Progress = Callable[[float, str], None]


@dataclass
class TrainedBundle:
    """Everything a prediction needs, saved as one artifact by classifier.registry."""

    features: FeatureUnion
    heads: dict[str, Any]
    labels: dict[str, list[str]]
    thresholds: dict[str, dict[str, dict[str, float]]]
    metrics: dict[str, Any]
    label_counts: dict[str, dict[str, int]]
    text_version: str
    dictionary_json: str
    params: dict[str, Any]
    data_rows: int
    data_hash: str
    trained_by: str
    trained_at: str
    libraries: dict[str, str] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)     # how the metrics were measured
    semantic: SemanticModel | None = None                        # LSA for re-ranking similar cases
    ranker: RankerModel | None = None                            # learned from used solutions (api.ranking)
    ranker_metrics: dict[str, Any] = field(default_factory=dict)  # links, held-out MRR, or why there is none

    def predict_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The plain scikit-learn path (reference for the fast scorer and for notebooks)."""
        X = self.features.transform(texts)
        return {h: self.heads[h].predict_proba(X) for h in HEADS}


def _analyze(texts: list[str], seg: Segmenter) -> tuple[list[list[str]], list[str]]:
    """(jieba words, normalised text) of every text: the character block takes its n-grams
    from the normalised text as integer codes (classifier.char_tfidf)."""
    words, norms = [], []
    for text in texts:
        norm = seg.normalize(text)
        words.append(seg.tokens(norm, "classify"))
        norms.append(norm)
    return words, norms


def _fit_on(idx: np.ndarray, words, norms, ys: dict[str, list[str]], params: dict[str, Any],
            groups: np.ndarray | None = None):
    n_min, n_max = params["char_ngram"]
    wv = TfidfVectorizer(analyzer=PreTokenized(), sublinear_tf=True, min_df=params["word_min_df"], dtype=np.float64)
    cv, X_chars = fit_char_tfidf([norms[i] for i in idx], n_min, n_max,
                                 min_df=resolve_min_df(params["char_min_df"], len(idx)))
    X = sp.hstack([wv.fit_transform([words[i] for i in idx]), X_chars]).tocsr()
    heads = {}
    g = None if groups is None else groups[idx]
    # one head after the other: liblinear draws from one process-wide random generator, so
    # heads fitted side by side in threads came out different from run to run (by ~1e-6)
    for h in ys:
        y = [ys[h][i] for i in idx]
        smallest = min(Counter(y).values())
        if len(y) >= HOLDOUT_CALIBRATION_ROWS and smallest >= 10:
            heads[h] = _fit_holdout_calibrated(X, y, params, g)
        else:
            head = build_head(params, smallest)
            if g is not None:
                head.set_params(cv=calibration_folds(y, g, head.cv, params["random_state"]))
            heads[h] = head.fit(X, y)
    return wv, cv, heads


def _has_every_class(y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    classes = set(y.tolist())
    return all(set(y[tr].tolist()) == classes for tr, _ in folds)


def calibration_folds(y: list[str], groups: np.ndarray, n_splits: int, seed: int) -> list | int:
    """Calibration folds that keep a group on one side, so the sigmoid is fitted on scores of
    texts the fold's model has not seen a twin of. Fewer folds when a class lives in few
    groups; plain stratified folds (``n_splits``) when no grouping leaves every class in
    every training fold."""
    y_arr = np.asarray(y)
    for k in range(min(n_splits, len(set(groups.tolist()))), 1, -1):
        folds = list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                     .split(np.zeros(len(y_arr)), y_arr, groups))
        if _has_every_class(y_arr, folds):
            return folds
    return n_splits


def _fit_holdout_calibrated(X, y: list[str], params: dict[str, Any], groups: np.ndarray | None = None
                            ) -> CalibratedClassifierCV:
    """Large sets: one LinearSVC on 90 %, sigmoid calibration on a 10 % of whole groups (or a
    stratified 10 % when the groups do not leave every class on both sides) — the same kind
    of head as the cross-validated one at a sixth of the fitting time."""
    y_arr = np.asarray(y)
    tr = cal = None
    if groups is not None:
        tr, cal = next(GroupShuffleSplit(n_splits=1, test_size=0.1, random_state=params["random_state"])
                       .split(np.zeros(len(y_arr)), y_arr, groups))
        if not (set(y_arr[tr].tolist()) == set(y_arr[cal].tolist()) == set(y)):
            tr = cal = None
    if tr is None:
        tr, cal = train_test_split(np.arange(len(y)), test_size=0.1, stratify=y, random_state=params["random_state"])
    svc = LinearSVC(C=params["C"], class_weight=params["class_weight"], random_state=params["random_state"])
    svc.fit(X[tr], y_arr[tr])
    return CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid").fit(X[cal], y_arr[cal])


def fit_texts(texts: list[str], ys: dict[str, list[str]], *, segmenter: Segmenter,
              params: dict[str, Any] | None = None) -> tuple[FeatureUnion, dict[str, Any]]:
    """Shared features + one calibrated head per label column, fitted on raw texts (benchmarks,
    notebooks). Returns a raw-text FeatureUnion and the heads."""
    params = params_with(params)
    n_min, n_max = params["char_ngram"]
    words, norms = _analyze(texts, segmenter)
    wv, cv, heads = _fit_on(np.arange(len(texts)), words, norms, ys, params)
    wv.analyzer = JiebaAnalyzer(segmenter.version)
    chars = cv.vectorizer(CharNgramAnalyzer(segmenter.version, n_min, n_max))
    return FeatureUnion([("words", wv), ("chars", chars)]), heads


def _transform(wv, cv: CharTfidf, idx, words, norms):
    return sp.hstack([wv.transform([words[i] for i in idx]), cv.transform([norms[i] for i in idx])]).tocsr()


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def threshold_for(confidence: np.ndarray, correct: np.ndarray, target: float, min_support: int = 3) -> float:
    """Lowest confidence at which predictions at or above it reach ``target`` precision
    (1.01, i.e. never, when no cut-off does)."""
    if len(confidence) < min_support:
        return 1.01
    order = np.argsort(-confidence, kind="stable")
    conf, ok = confidence[order], correct[order].astype(float)
    precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    best = 1.01
    for i in range(len(conf)):
        if i + 1 >= min_support and precision[i] >= target and (i + 1 == len(conf) or conf[i + 1] < conf[i]):
            best = float(conf[i])
    return best


def coverage_at_precision(confidence: np.ndarray, correct: np.ndarray, target: float = 0.9) -> float:
    """Largest share of requests that can be answered while keeping ``target`` precision."""
    order = np.argsort(-confidence, kind="stable")
    ok = correct[order].astype(float)
    precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    reached = np.nonzero(precision >= target)[0]
    return float((reached.max() + 1) / len(ok)) if len(reached) else 0.0


def evaluate_head(y_true: list[str], proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    pred_idx = proba.argmax(axis=1)
    y_pred = [classes[i] for i in pred_idx]
    confidence = proba.max(axis=1)
    correct = np.array([a == b for a, b in zip(y_true, y_pred, strict=True)])
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "accuracy": float(correct.mean()),
        "macro_f1": float(np.mean(f)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(classes)},
        "confusion": {"labels": classes,
                      "matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist()},
        "ece": expected_calibration_error(confidence, correct),
        "coverage_at_90": coverage_at_precision(confidence, correct, 0.9),
        "test_rows": len(y_true),
    }


def label_thresholds(y_true: list[str], proba: np.ndarray, classes: list[str], *, suggest_precision: float,
                     auto_precision: float) -> dict[str, dict[str, float]]:
    pred_idx = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    out = {}
    for k, label in enumerate(map(str, classes)):
        mask = pred_idx == k
        correct = np.array([y_true[i] == label for i in np.nonzero(mask)[0]])
        conf = confidence[mask]
        out[label] = {"suggest": min(threshold_for(conf, correct, suggest_precision), 0.99) if mask.sum() >= 3 else 0.5,
                      "auto_apply": threshold_for(conf, correct, auto_precision)}
    return out


def fit(examples: list[Example], *, segmenter: Segmenter, trained_by: str, params: dict[str, Any] | None = None,
        suggest_precision: float = 0.8, auto_precision: float = 0.95, evaluate: bool = True,
        refit_full: bool | None = None, progress: Progress | None = None, source: str = "db") -> TrainedBundle:
    progress = progress or (lambda _f, _m: None)
    params = params_with(params)
    if len(examples) < 10:
        raise ValueError(f"need at least 10 labelled examples, got {len(examples)}")
    ordered = sorted(examples, key=lambda e: str(e.at))
    texts = [e.text for e in ordered]
    ys = {"type": [e.type for e in ordered], "priority": [e.priority for e in ordered]}
    progress(0.05, f"分词 {len(texts)} 条文本")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="zhiku-fit") as beside:
        # What needs only the texts runs beside the rest: the near-twin groups beside jieba, the
        # LSA beside the heads (MinHash's numpy, the SVD and liblinear's fits let go of the GIL;
        # 50,000 reviews on 2 cores: 24.4 s instead of 30.3 s in all).
        split = beside.submit(grouped_time_split, ordered) if evaluate else None
        words, norms = _analyze(texts, segmenter)
        semantic = beside.submit(fit_semantic, texts, segmenter, normalized=norms) \
            if params.get("semantic", True) else None
        return _fit_heads(ordered, texts, ys, words, norms, split, semantic, params, segmenter=segmenter,
                          evaluate=evaluate, refit_full=refit_full, progress=progress, trained_by=trained_by,
                          source=source, precision=(suggest_precision, auto_precision))


def _fit_heads(ordered: list[Example], texts: list[str], ys: dict[str, list[str]], words, norms,
               split: Future | None, semantic: Future | None, params: dict[str, Any], *, segmenter: Segmenter,
               evaluate: bool, refit_full: bool | None, progress: Progress, trained_by: str, source: str,
               precision: tuple[float, float]) -> TrainedBundle:
    """``fit`` once its texts are analysed: the heads, their evaluation, the bundle."""
    suggest_precision, auto_precision = precision
    n_min, n_max = params["char_ngram"]
    metrics: dict[str, Any] = {}
    thresholds: dict[str, dict[str, dict[str, float]]] = {}
    all_idx = np.arange(len(texts))
    evaluation: dict[str, Any] = {"source": source}
    groups = None
    if evaluate:
        progress(0.15, "查找近似重复与同一客户的案例")
        split = split.result()
        groups = split.groups
        evaluation.update(split.describe())
        if len(split.test) == 0:
            raise ValueError("every example shares a group with an older one: nothing unseen is left to evaluate on")
        tr_idx, te_idx = split.train, split.test
        progress(0.25, "训练评估模型（较早的 80%）")
        wv, cv, heads = _fit_on(tr_idx, words, norms, ys, params, groups)
        X_te = _transform(wv, cv, te_idx, words, norms)
        progress(0.55, "在较新且未见过的案例上评估")
        for h in HEADS:
            classes = [str(c) for c in heads[h].classes_]
            proba = heads[h].predict_proba(X_te)
            y_true = [ys[h][i] for i in te_idx]
            metrics[h] = evaluate_head(y_true, proba, classes)
            thresholds[h] = label_thresholds(y_true, proba, classes, suggest_precision=suggest_precision,
                                             auto_precision=auto_precision)
    if refit_full is None:      # large histories: the 80 % model is as good, and refitting doubles the time
        refit_full = len(ordered) < HOLDOUT_CALIBRATION_ROWS
    if refit_full or not evaluate:
        progress(0.65, "在全部数据上训练")
        wv, cv, heads = _fit_on(all_idx, words, norms, ys, params, groups)
    for h in HEADS:
        for label in heads[h].classes_:
            thresholds.setdefault(h, {}).setdefault(str(label), {"suggest": 0.5, "auto_apply": 1.01})
    wv.analyzer = JiebaAnalyzer(segmenter.version)
    chars = cv.vectorizer(CharNgramAnalyzer(segmenter.version, n_min, n_max))
    if semantic is not None:
        progress(0.85, "拟合语义表示（LSA）")
        semantic = semantic.result()
    progress(0.95, "打包")
    return TrainedBundle(
        features=FeatureUnion([("words", wv), ("chars", chars)]),
        heads=heads,
        labels={h: [str(c) for c in heads[h].classes_] for h in HEADS},
        thresholds=thresholds,
        metrics=metrics,
        label_counts={h: dict(Counter(ys[h])) for h in HEADS},
        text_version=segmenter.version,
        dictionary_json=segmenter.snapshot.to_json(),
        params={**params, "suggest_precision": suggest_precision, "auto_precision": auto_precision},
        data_rows=len(ordered),
        data_hash=data_hash(ordered),
        trained_by=trained_by,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        libraries={name: pkg_version(name) for name in ("scikit-learn", "numpy", "scipy", "jieba", "opencc")}
        | {"python": platform.python_version()},
        evaluation=evaluation,
        semantic=semantic,
    )
