"""Classifier quality: the product's pipeline vs plain jieba TF-IDF + LinearSVC, same splits, same run.

Sets: request_type twice — time order (first 80 % train, last 20 % test) and the product's
own grouped time split (classifier.dataset.grouped_time_split: near-duplicates, char 3-gram
Jaccard ≥ 0.8, stay on the side of their first member) — SMP2017 intents (train → dev),
online_shopping_10_cats product category (stratified 80/20).
Targets: beat the baseline's macro-F1 on every set; ≥ +3 points on request_type (both
splits) and SMP2017.
Also reports the product's expected calibration error and coverage at 90 % precision.

    .venv/bin/python bench/classify_quality.py [--max-rows N]
"""

from __future__ import annotations

import argparse
import time

import jieba
import numpy as np
from _common import default_segmenter, finish, read_tsv
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from classifier.dataset import Example, grouped_time_split
from classifier.train import coverage_at_precision, expected_calibration_error, fit_texts


def load_sets(max_rows: int | None):
    rt = read_tsv("request_type/train.tsv").sort_values("time", kind="stable")
    texts = (rt.subject + "\n" + rt.description).tolist()
    cut = int(len(texts) * 0.8)
    labels = rt.label.tolist()
    yield "request_type", texts[:cut], labels[:cut], texts[cut:], labels[cut:]
    split = grouped_time_split([Example(t, y, y, str(at)) for t, y, at in zip(texts, labels, rt.time, strict=True)])
    print(f"request_type grouped: {split.describe()}")
    yield ("request_type (grouped)", [texts[i] for i in split.train], [labels[i] for i in split.train],
           [texts[i] for i in split.test], [labels[i] for i in split.test])
    tr, dv = read_tsv("smp_ecdt_intent/smp2017_train.tsv"), read_tsv("smp_ecdt_intent/smp2017_dev.tsv")
    yield "smp2017", tr.text.tolist(), tr.label.tolist(), dv.text.tolist(), dv.label.tolist()
    shop = read_tsv("online_shopping_10_cats/online_shopping_10_cats.tsv")
    shop = shop[shop.review.str.strip() != ""]
    if max_rows:
        shop = shop.sample(n=min(max_rows, len(shop)), random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(shop.review.tolist(), shop.cat.tolist(), test_size=0.2,
                                          stratify=shop.cat.tolist(), random_state=0)
    yield "online_shopping_10_cats", Xtr, ytr, Xte, yte


def baseline(Xtr, ytr, Xte):
    pipe = make_pipeline(TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False), LinearSVC())
    pipe.fit(Xtr, ytr)
    return pipe.predict(Xte)


def product(segmenter, Xtr, ytr, Xte):
    features, heads = fit_texts(Xtr, {"label": ytr}, segmenter=segmenter)
    head = heads["label"]
    proba = head.predict_proba(features.transform(Xte))
    return [str(head.classes_[i]) for i in proba.argmax(axis=1)], proba.max(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-rows", type=int, default=None, help="subsample online_shopping (default: all)")
    args = parser.parse_args()
    segmenter = default_segmenter()
    jieba.initialize()
    rows, ok, summary = [], True, []
    for name, Xtr, ytr, Xte, yte in load_sets(args.max_rows):
        t = time.perf_counter()
        base_pred = baseline(Xtr, ytr, Xte)
        base_s = time.perf_counter() - t
        t = time.perf_counter()
        prod_pred, conf = product(segmenter, Xtr, ytr, Xte)
        prod_s = time.perf_counter() - t
        correct = np.array([a == b for a, b in zip(prod_pred, yte, strict=True)])
        r = {
            "set": name, "train": len(Xtr), "test": len(Xte),
            "base_acc": accuracy_score(yte, base_pred), "base_f1": f1_score(yte, base_pred, average="macro"),
            "prod_acc": accuracy_score(yte, prod_pred), "prod_f1": f1_score(yte, prod_pred, average="macro"),
            "ece": expected_calibration_error(conf, correct), "cov90": coverage_at_precision(conf, correct, 0.9),
            "base_s": base_s, "prod_s": prod_s,
        }
        r["gain"] = (r["prod_f1"] - r["base_f1"]) * 100
        need = 3.0 if name in ("request_type", "request_type (grouped)", "smp2017") else 0.0
        r["target"] = f"> +{need:g}" if need else "> 0"
        r["met"] = r["gain"] >= need and r["gain"] > 0
        ok &= r["met"]
        rows.append(r)
        summary.append(f"{name} macro-F1 {r['prod_f1']:.3f} vs {r['base_f1']:.3f} ({r['gain']:+.1f} pts)")
    print(f"{'set':26s} {'train':>6s} {'test':>6s} | {'base acc':>8s} {'base F1':>8s} | {'prod acc':>8s} "
          f"{'prod F1':>8s} {'ΔF1 pts':>8s} {'ratio':>6s} | {'ECE':>6s} {'cov@90%P':>8s} | {'base s':>6s} "
          f"{'prod s':>6s} | target")
    for r in rows:
        print(f"{r['set']:26s} {r['train']:6d} {r['test']:6d} | {r['base_acc']:8.4f} {r['base_f1']:8.4f} | "
              f"{r['prod_acc']:8.4f} {r['prod_f1']:8.4f} {r['gain']:+8.2f} {r['prod_f1'] / r['base_f1']:6.3f} | "
              f"{r['ece']:6.3f} {r['cov90']:8.3f} | {r['base_s']:6.1f} {r['prod_s']:6.1f} | "
              f"{r['target']} {'ok' if r['met'] else 'MISSED'}")
    finish(ok, "; ".join(summary))


if __name__ == "__main__":
    main()
