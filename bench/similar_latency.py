"""Similar-case search latency and indexing throughput at 10k and 100k real texts.

Documents: short real texts from ../shared/data (AFQMC, BQ, LCQMC, SMP, waimai, online
shopping ≤ 80 chars) plus TipDM citizen messages. Queries: held-out short requests
(~25 chars) and long complaints (TipDM messages, 300–400 chars). For each size: the
product's search (key terms, reused searcher, postings scored with numpy) and, in the same run, the
naive way (OR of all tokens, a new searcher and QueryParser per request): p50 / p99 and
the ratio. Indexing throughput is measured on pre-segmented documents; packing the postings
(indexer/packed.py, which the index writer does after each commit) is timed apart.
Targets at 100k: p99 ≤ 20 ms short, ≤ 40 ms long; at 1M: ≤ 60 ms short, ≤ 100 ms long;
indexing ≥ 5,000 docs/s.

1M documents: the open sets hold ~154k distinct short texts, so beyond the pool a document is
two pool texts joined with "，" (a customer who writes two sentences), each pair drawn once —
1M distinct documents whose words and lengths stay those of real requests. Also reported per
size: segmenting time, index size on disk, and this process's RSS after the queries.

    .venv/bin/python bench/similar_latency.py [--sizes 10000 100000 1000000] [--queries 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from _common import SHARED_DATA, default_segmenter, finish, read_tsv
from whoosh.qparser import OrGroup, QueryParser

from indexer import packed
from indexer.whoosh_index import WhooshIndex


def corpus() -> tuple[list[str], list[str]]:
    short: list[str] = []
    for path in ("afqmc/train.tsv", "bq_corpus/dev.tsv", "lcqmc/dev.tsv"):
        df = read_tsv(path)
        short += list(df.text_a) + list(df.text_b)
    short += list(read_tsv("smp_ecdt_intent/smp2017_train.tsv").text)
    short += [line and json.loads(line)["text"] for line in
              (SHARED_DATA / "smp_ecdt_intent" / "smp2019_train.jsonl").open(encoding="utf-8") if line.strip()]
    short += [t for t in read_tsv("waimai_10k/waimai_10k.tsv").review if len(t) <= 80]
    short += [t for t in read_tsv("online_shopping_10_cats/online_shopping_10_cats.tsv").review if 4 <= len(t) <= 80]
    short = list(dict.fromkeys(t.strip() for t in short if t and t.strip()))
    long: list[str] = []
    for path in ("tipdm2020_gov_messages/messages_with_replies.tsv", "tipdm2020_gov_messages/messages_with_votes.tsv",
                 "tipdm2020_gov_messages/messages_unlabeled_test.tsv"):
        df = read_tsv(path)
        text_col = "detail" if "detail" in df.columns else df.columns[-1]
        long += [d for d in df[text_col] if len(d) >= 60]
    return short, list(dict.fromkeys(long))


def combined(pool: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` distinct documents of two pool texts each, joined with "，"."""
    rng = random.Random(seed)
    seen: set[tuple[int, int]] = set()
    out: list[str] = []
    while len(out) < n:
        a, b = rng.randrange(len(pool)), rng.randrange(len(pool))
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            out.append(f"{pool[a]}，{pool[b]}")
    return out


def pct(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def timed(fn, queries: list[str]) -> list[float]:
    for q in queries[:5]:        # warm-up queries are not timed (the segmenter remembers recent texts)
        fn(q)
    gc.collect()
    out = []
    for q in queries[5:]:
        t = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--naive-queries", type=int, default=60,
                        help="the naive way takes up to seconds per long query: time a prefix of the queries")
    parser.add_argument("--naive-long-queries", type=int, default=None,
                        help="prefix of the long queries for the naive way (default: --naive-queries; at 1M a "
                        "naive long query takes ~a minute)")
    args = parser.parse_args()
    segmenter = default_segmenter()
    short, long = corpus()
    rng = random.Random(0)
    rng.shuffle(short)
    rng.shuffle(long)
    long_queries = [t[:400] for t in long if len(t) >= 300][: args.queries // 2]
    long_docs = [t for t in long if t[:400] not in set(long_queries)]
    short_queries = [t for t in short[: args.queries * 4] if 15 <= len(t) <= 40][: args.queries]
    short_docs = short[args.queries * 4:]
    print(f"pool: {len(short_docs)} short texts, {len(long_docs)} long messages; queries: {len(short_queries)} short "
          f"(mean {np.mean([len(q) for q in short_queries]):.0f} chars), {len(long_queries)} long "
          f"(mean {np.mean([len(q) for q in long_queries]):.0f} chars)")
    rows, ok, summary = [], True, []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            n_long = min(len(long_docs), size // 20)
            docs = long_docs[:n_long] + short_docs[: size - n_long]
            if len(docs) < size:
                docs += combined(short_docs, size - len(docs))
            if len(docs) < size:
                print(f"only {len(docs)} documents available for size {size}")
            t = time.perf_counter()
            tokens = [" ".join(segmenter.tokens(segmenter.normalize(d), "index")) for d in docs]
            seg_s = time.perf_counter() - t
            index = WhooshIndex(Path(tmp) / str(size), segmenter.cache_dir)
            generation, ix = index.create_generation(segmenter.snapshot)
            t = time.perf_counter()
            writer = index.bulk_writer(ix, len(tokens))
            for i, tok in enumerate(tokens):
                writer.add_document(doc_id=f"case:{i}", kind="case", entity_id=i, status="resolved",
                                    updated_at="2024-01-01T00:00:00", title=tok)
            writer.commit()
            index_s = time.perf_counter() - t
            t = time.perf_counter()          # as the index writer does after every commit (indexer/packed.py)
            packed.write_missing(ix, index.directory(generation))
            pack_s = time.perf_counter() - t
            index.switch(generation)
            size_mb = sum(p.stat().st_size for p in (Path(tmp) / str(size) / generation).iterdir()) / 1e6
            ix_naive = index.open()
            parser_ = QueryParser("title", ix_naive.schema, group=OrGroup)

            def naive(q: str) -> None:
                toks = segmenter.tokens(segmenter.normalize(q), "index")
                with ix_naive.searcher() as s:
                    s.search(parser_.parse(" ".join(toks)), limit=10)

            def product(q: str) -> None:
                index.similar(q, k=10)

            result = {"size": len(docs), "docs_per_s": len(docs) / index_s, "segment_s": seg_s, "mb": size_mb,
                      "index_s": index_s, "pack_s": pack_s}
            for kind, queries in (("short", short_queries), ("long", long_queries)):
                result[f"{kind}_product"] = pct(timed(product, queries))
                n_naive = args.naive_queries if kind == "short" else (args.naive_long_queries or args.naive_queries)
                result[f"{kind}_naive"] = pct(timed(naive, queries[: n_naive + 5]))
            result["rss_mb"] = psutil.Process().memory_info().rss / 1e6
            del tokens, docs
            rows.append(result)
            index.close()
            # said at once: a run stopped during a larger size keeps what the smaller ones measured
            print(f"measured {result['size']} docs: short p50 / p99 {result['short_product'][0]:.2f} / "
                  f"{result['short_product'][1]:.2f} ms, long {result['long_product'][0]:.2f} / "
                  f"{result['long_product'][1]:.2f} ms (the table follows once every size is done)", flush=True)
    print(f"{'docs':>7s} {'segment s':>9s} {'index s':>7s} {'idx docs/s':>10s} {'pack s':>6s} {'MB':>6s} {'RSS MB':>6s} | "
          f"{'query':5s} {'product p50':>11s} {'p99':>7s} | {'naive p50':>9s} {'p99':>8s} | {'×p50':>6s} {'×p99':>6s}")
    for r in rows:
        for kind in ("short", "long"):
            p50, p99 = r[f"{kind}_product"]
            n50, n99 = r[f"{kind}_naive"]
            print(f"{r['size']:7d} {r['segment_s']:9.1f} {r['index_s']:7.1f} {r['docs_per_s']:10.0f} {r['pack_s']:6.1f} "
                  f"{r['mb']:6.1f} "
                  f"{r['rss_mb']:6.0f} | {kind:5s} {p50:11.2f} {p99:7.2f} | "
                  f"{n50:9.2f} {n99:8.2f} | {n50 / p50:6.1f} {n99 / p99:6.1f}")
    big = max(rows, key=lambda r: r["size"])
    limits = {r["size"]: ((60, 100) if r["size"] >= 1_000_000 else (20, 40)) for r in rows}
    ok = big["size"] >= 100_000 and big["docs_per_s"] >= 5000 and all(
        r["short_product"][1] <= limits[r["size"]][0] and r["long_product"][1] <= limits[r["size"]][1]
        for r in rows if r["size"] >= 100_000)
    summary = "; ".join(
        f"{r['size']} docs: short p99 {r['short_product'][1]:.1f} ms (≤{limits[r['size']][0]}), long p99 "
        f"{r['long_product'][1]:.1f} ms (≤{limits[r['size']][1]}), naive p99 {r['short_naive'][1]:.0f} / "
        f"{r['long_naive'][1]:.0f} ms, RSS {r['rss_mb']:.0f} MB" for r in rows if r["size"] >= 100_000)
    summary += f"; indexing {big['docs_per_s']:.0f} docs/s (≥5000)"
    finish(ok, summary)


if __name__ == "__main__":
    main()
