"""Similar-case retrieval quality: the product's search vs TF-IDF cosine and BM25 (all
query tokens), same sentences, same queries, same run.

Pairs sets (BQ dev, AFQMC train, LCQMC dev): every sentence is indexed as a past case; a
sentence in a cluster of label-1 pairs is a query whose relevant results are the other
members (itself excluded). InsuranceQA: train+valid questions → the answer pool.
Target: product MRR@10 ≥ the better baseline on every pairs set.

    .venv/bin/python bench/similar_quality.py [--queries 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, default_segmenter, finish, read_tsv
from _retrieval import (
    BM25Baseline,
    TfidfBaseline,
    build_product_index,
    clusters_from_pairs,
    metrics,
    product_rank,
    queries_from_clusters,
)


def run_pairs(name: str, path: str, segmenter, limit: int, workdir: Path):
    texts, clusters = clusters_from_pairs(read_tsv(path))
    queries = queries_from_clusters(clusters, limit)
    relevant = [rel for _, rel in queries]
    qtexts, exclude = [texts[q] for q, _ in queries], [q for q, _ in queries]
    t = time.perf_counter()
    index = build_product_index(workdir / name, segmenter, texts)
    build_s = time.perf_counter() - t
    rows = {}
    t = time.perf_counter()
    rows["product"] = metrics(product_rank(index, texts, queries), relevant)
    prod_s = time.perf_counter() - t
    rows["tfidf-cosine"] = metrics(TfidfBaseline(texts).rank(qtexts, exclude), relevant)
    rows["bm25-all-tokens"] = metrics(BM25Baseline(texts).rank(qtexts, exclude), relevant)
    index.close()
    return {"set": name, "docs": len(texts), "queries": len(queries), "rows": rows,
            "index_s": build_s, "query_ms": prod_s / len(queries) * 1000}


def run_insuranceqa(segmenter, limit: int, workdir: Path):
    answers = [json.loads(line) for line in (SHARED_DATA / "insuranceqa_zh" / "answers.jsonl").open(encoding="utf-8")]
    questions = [json.loads(line) for line in (SHARED_DATA / "insuranceqa_zh" / "questions.jsonl").open(encoding="utf-8")]
    questions = [q for q in questions if q["split"] in ("train", "valid")]
    position = {a["answer_id"]: i for i, a in enumerate(answers)}
    texts = [a["answer_zh"] for a in answers]
    import random

    questions = random.Random(0).sample(questions, min(limit, len(questions)))
    relevant = [{position[a] for a in q["answer_ids"] if a in position} for q in questions]
    qtexts = [q["question_zh"] for q in questions]
    index = build_product_index(workdir / "insuranceqa", segmenter, texts, field="body")
    rows = {"product": metrics(product_rank(index, texts, [(t, None) for t in qtexts]), relevant),
            "tfidf-cosine": metrics(TfidfBaseline(texts).rank(qtexts, [None] * len(qtexts)), relevant),
            "bm25-all-tokens": metrics(BM25Baseline(texts).rank(qtexts, [None] * len(qtexts)), relevant)}
    index.close()
    return {"set": "insuranceqa_zh (answers)", "docs": len(texts), "queries": len(qtexts), "rows": rows,
            "index_s": float("nan"), "query_ms": float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=3000, help="queries sampled per set (seeded)")
    args = parser.parse_args()
    segmenter = default_segmenter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in (("bq_corpus dev", "bq_corpus/dev.tsv"), ("afqmc train", "afqmc/train.tsv"),
                           ("lcqmc dev", "lcqmc/dev.tsv")):
            results.append(run_pairs(name, path, segmenter, args.queries, Path(tmp)))
        results.append(run_insuranceqa(segmenter, args.queries, Path(tmp)))
    ok, summary = True, []
    print(f"{'set':26s} {'system':16s} {'hit@1':>7s} {'hit@5':>7s} {'MRR@10':>7s} {'R@10':>7s}  vs best baseline")
    for r in results:
        best = max(r["rows"]["tfidf-cosine"]["MRR@10"], r["rows"]["bm25-all-tokens"]["MRR@10"])
        for system, m in r["rows"].items():
            ratio = f"{m['MRR@10'] / best:6.3f}×" if system == "product" else ""
            print(f"{r['set']:26s} {system:16s} {m['hit@1']:7.4f} {m['hit@5']:7.4f} {m['MRR@10']:7.4f} "
                  f"{m['recall@10']:7.4f}  {ratio}")
        print(f"{'':26s} ({r['docs']} docs, {r['queries']} queries)")
        product = r["rows"]["product"]["MRR@10"]
        if "insuranceqa" not in r["set"]:
            ok &= product >= best
        summary.append(f"{r['set'].split()[0]} MRR@10 {product:.3f} vs {best:.3f}")
    finish(ok, "; ".join(summary))


if __name__ == "__main__":
    main()
