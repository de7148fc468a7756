"""Traditional ↔ Simplified, measured: does a customer writing in Taiwan's script find the case
that was logged in Simplified?

A parallel set from the open pairs sets' sentences (BQ dev, AFQMC train, LCQMC dev): every
sentence is indexed as a past case (Simplified, as written); a sample of them is converted
with OpenCC's phrase-level Taiwan profile (``s2twp``: 软件→軟體, 登录→登入, 花呗→花唄) and
searched with the product's similar-case search. A query succeeds when its rank-1 case is its
Simplified original (or a sentence identical to it after normalisation).

Same run, same queries:
- suggestions: the product's lexical top CANDIDATES (50) re-ranked by the LSA blend (classifier.semantic,
  fitted without labels on the set's texts), as suggestions serve them — the figure; goal
  ≥ 99 % at rank 1; the failures listed are this system's;
- the product's lexical search alone, Traditional queries (search and lists);
- the product, the Simplified originals (ceiling: what the index finds without a script change);
- BM25 over jieba tokens of the unconverted Traditional query (what search without script
  folding would do).

Prints the failures (query, the original, what came first).

    .venv/bin/python bench/traditional_queries.py [--queries 2000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import opencc
from _common import default_segmenter, finish, read_tsv
from _retrieval import BM25Baseline, build_product_index, candidate_features, clusters_from_pairs, order_by

from classifier.ranker import CANDIDATES, blend_scores
from classifier.semantic import fit_semantic

SETS = (("bq_corpus", "bq_corpus/dev.tsv"), ("afqmc", "afqmc/train.tsv"), ("lcqmc", "lcqmc/dev.tsv"))
GOAL = 0.99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2000, help="Traditional queries per set")
    args = parser.parse_args()
    segmenter = default_segmenter()
    to_tw = opencc.OpenCC("s2twp")
    results, failures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in SETS:
            texts, _ = clusters_from_pairs(read_tsv(path))
            norm = [segmenter.normalize(t) for t in texts]
            same = {}
            for i, n in enumerate(norm):
                same.setdefault(n, set()).add(i)
            sample = random.Random(0).sample(range(len(texts)), min(args.queries, len(texts)))
            trad = [to_tw.convert(texts[i]) for i in sample]
            changed = [j for j, i in enumerate(sample) if trad[j] != texts[i]]
            index = build_product_index(Path(tmp) / name, segmenter, texts)

            def at_rank1(query: str, original: int) -> tuple[bool, int | None]:
                hits = index.similar(query, k=1)
                first = hits[0].entity_id if hits else None
                return first is not None and first in same[norm[original]], first

            semantic = fit_semantic(texts, segmenter)
            features, _ = candidate_features(index, texts, trad, semantic, segmenter, candidates=CANDIDATES)
            served = order_by(features, blend_scores, k=1)
            trad_ok = simp_ok = served_ok = 0
            for j, i in enumerate(sample):
                ok, first = at_rank1(trad[j], i)
                trad_ok += ok
                top = served[j][0] if served[j] else None
                good = top is not None and top in same[norm[i]]
                served_ok += good
                if not good:
                    failures.append((name, trad[j], texts[i], texts[top] if top is not None else "（无结果）"))
                simp_ok += at_rank1(texts[i], i)[0]
            bm25 = BM25Baseline(texts).rank(trad, [None] * len(trad), k=1)
            bm25_ok = sum(1 for j, i in enumerate(sample) if bm25[j] and bm25[j][0] in same[norm[i]])
            changed_ok = sum(1 for j in changed if at_rank1(trad[j], sample[j])[0])
            index.close()
            results.append({"set": name, "docs": len(texts), "queries": len(sample), "changed": len(changed),
                            "served": served_ok / len(sample), "trad": trad_ok / len(sample), "trad_changed": changed_ok / max(len(changed), 1),
                            "simp": simp_ok / len(sample), "bm25": bm25_ok / len(sample)})

    print(f"{'set':<11}{'docs':>8}{'queries':>9}{'converted':>11}{'建议 繁→简 @1':>14}{'检索 繁→简 @1':>14}"
          f"{'(converted)':>13}{'检索 简 @1':>12}{'BM25 繁 @1':>13}")
    for r in results:
        print(f"{r['set']:<11}{r['docs']:>8}{r['queries']:>9}{r['changed']:>11}{r['served']:>14.4f}{r['trad']:>14.4f}"
              f"{r['trad_changed']:>13.4f}{r['simp']:>12.4f}{r['bm25']:>13.4f}")
    print(f"\nfailures: {len(failures)} (set | Traditional query | Simplified original | rank 1)")
    for name, query, original, first in failures[:40]:
        print(f"  {name} | {query} | {original} | {first}")
    total_q = sum(r["queries"] for r in results)
    overall = sum(r["served"] * r["queries"] for r in results) / total_q
    lexical = sum(r["trad"] * r["queries"] for r in results) / total_q
    ceiling = sum(r["simp"] * r["queries"] for r in results) / total_q
    finish(overall >= GOAL, f"Traditional queries finding their Simplified original at rank 1 in suggestions: "
                            f"{overall:.2%} (goal {GOAL:.0%}; lexical search alone {lexical:.2%}; the same queries in "
                            f"Simplified, lexical: {ceiling:.2%}; "
                            f"BM25 without folding: {sum(r['bm25'] * r['queries'] for r in results) / total_q:.2%})")


if __name__ == "__main__":
    main()
