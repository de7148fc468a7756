"""Proposal latency and training time.

1. Trains the product bundle (type + priority heads, with its evaluation split) on 50,000
   real reviews from online_shopping_10_cats (category → "type", sentiment → "priority"):
   training time, target ≤ 30 s.
2. One ~60-character request at a time through (a) the product's Predictor (both heads,
   rules, drivers), (b) the compiled scorer alone, and (c) scikit-learn's
   ``features.transform`` + ``predict_proba`` of both heads: p50 / p99 and the ratio.
   Target for (a): p50 ≤ 0.3 ms or ≥ 15× faster than (c) at p50 in the same run (issue 16:
   machines differ by 2×), and p99 ≤ 1.5 ms, excluding HTTP. (d) jieba's precise cut of the
   normalised texts alone: the floor of every path that segments a new draft, so (c) over (d)
   is the most any of them can gain over (c) on the machine at hand.

    .venv/bin/python bench/classify_latency.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
from _common import ROOT, default_segmenter, finish, read_tsv

from classifier.fastscore import CompiledModel
from classifier.predictor import Predictor, _Loaded
from classifier.registry import ModelRegistry
from classifier.rules import Facts, TriageRules
from classifier.train import Example, fit
from kb.text import Segmenter


CUT = "jieba precise cut alone (normalised text, nothing remembered)"


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--train-rows", type=int, default=50_000)
    args = parser.parse_args()
    segmenter = default_segmenter()
    shop = read_tsv("online_shopping_10_cats/online_shopping_10_cats.tsv")
    shop = shop[shop.review.str.strip() != ""].sample(frac=1.0, random_state=0)
    train, rest = shop.iloc[:args.train_rows], shop.iloc[args.train_rows:]
    examples = [Example(t, c, "正面" if lab == "1" else "负面", f"{i:08d}")
                for i, (t, c, lab) in enumerate(zip(train.review, train.cat, train.label, strict=True))]
    t0 = time.perf_counter()
    bundle = fit(examples, segmenter=segmenter, trained_by="bench")
    train_s = time.perf_counter() - t0
    print(f"training: {len(examples)} texts, both heads, evaluation split included: {train_s:.1f} s "
          f"(type macro-F1 {bundle.metrics['type']['macro_f1']:.3f}, priority macro-F1 "
          f"{bundle.metrics['priority']['macro_f1']:.3f})")

    requests = list(dict.fromkeys(t[:60] for t in rest.review if len(t) >= 60))[: args.requests + 200]
    print(f"requests: {len(requests)} × 60 characters")
    predictor = Predictor(ModelRegistry(ROOT / "data" / "var" / "bench-models"),
                          TriageRules.from_toml(ROOT / "data" / "triage_rules.toml"))
    compiled = CompiledModel(bundle)
    predictor._loaded = _Loaded("bench", bundle, compiled, segmenter)   # no registry round-trip needed
    facts = Facts(emotion="平和")

    def run(fn) -> list[float]:
        # warm on texts that are not timed: the segmenter remembers its last few texts, and a
        # timed text seen in the warm-up would measure that memory, not a new draft
        for text in requests[:200]:
            fn(text)
        gc.collect()
        gc.disable()
        out = []
        for text in requests[200:]:
            start = time.perf_counter()
            fn(text)
            out.append(time.perf_counter() - start)
        gc.enable()
        return out

    # jieba's precise cut of the already-normalised text, by a segmenter of its own (nothing
    # remembered): every path that sees a new draft pays at least this, so sklearn's p50 over it
    # is the most any such path can gain over sklearn on this machine
    cutter = Segmenter(segmenter.snapshot, ROOT / "data" / "var" / "jieba-cache")
    # normalised by the cutter: the shared segmenter would remember the last texts normalised here,
    # and the proposal path, timed next, would find them
    normalised = {t: cutter.normalize(t) for t in requests}
    paths = {
        "product Predictor.propose (both heads + rules + drivers)": lambda t: predictor.propose(t, facts),
        "compiled scorer only (both heads, no drivers)": lambda t: [
            compiled.score(h, *f) for f in [compiled.features(segmenter, t)] for h in ("type", "priority")],
        "sklearn transform + predict_proba (both heads)": lambda t: bundle.predict_proba([t]),
        CUT: lambda t: cutter.tokens(normalised[t]),
    }
    results = {name: percentiles(run(fn)) for name, fn in paths.items()}
    base50, base99 = results["sklearn transform + predict_proba (both heads)"]
    print(f"{'path':58s} {'p50 ms':>8s} {'p99 ms':>8s} {'p50 ×':>7s} {'p99 ×':>7s}")
    for name, (p50, p99) in results.items():
        print(f"{name:58s} {p50:8.3f} {p99:8.3f} {base50 / p50:7.1f} {base99 / p99:7.1f}")
    p50, p99 = results["product Predictor.propose (both heads + rules + drivers)"]
    cut50 = results[CUT][0]
    print(f"jieba's cut alone is {cut50 / p50:.0%} of propose at p50; no path that segments a new text can "
          f"be more than {base50 / cut50:.1f}× faster than sklearn here, or faster than {cut50:.3f} ms")
    ok = (p50 <= 0.3 or base50 / p50 >= 15) and p99 <= 1.5 and train_s <= 30
    finish(ok, f"propose p50 {p50:.3f} ms (≤0.3 or ≥15× sklearn), p99 {p99:.3f} ms (≤1.5), "
               f"{base50 / p50:.1f}× faster than sklearn at p50 (jieba's cut alone {cut50:.3f} ms: ≤ "
               f"{base50 / cut50:.1f}×); training {len(examples)} texts {train_s:.1f} s (≤30)")


if __name__ == "__main__":
    main()
