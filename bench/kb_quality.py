"""Knowledge-article retrieval quality and a gap-detection sanity check.

1. InsuranceQA-zh: every answer in answers.jsonl becomes a *published article* (the product's
   article document, indexed like any article); train+valid questions are drafts. For each
   question, the articles the product suggests while logging (similar_to, kind=article, with
   the audience filter in the query) and the articles /search returns are compared with a
   BM25 over all query tokens baseline (bm25s, jieba tokens) in the same run: MRR@10, hit@10.
   Target: product ≥ baseline on MRR@10.
2. TipDM 2020 citizen messages with official replies loaded as resolved cases (no articles):
   the top 10 knowledge gaps with their sizes and suggested titles.

    .venv/bin/python bench/kb_quality.py [--queries 3000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import SHARED_DATA, default_segmenter, finish, read_tsv
from _retrieval import BM25Baseline, metrics

from indexer.documents import article_document
from indexer.whoosh_index import WhooshIndex
from kb.models import Article, ArticleState


def article_quality(segmenter, n_queries: int, workdir: Path) -> dict:
    answers = [json.loads(line) for line in (SHARED_DATA / "insuranceqa_zh" / "answers.jsonl").open(encoding="utf-8")]
    questions = [json.loads(line) for line in
                 (SHARED_DATA / "insuranceqa_zh" / "questions.jsonl").open(encoding="utf-8")]
    questions = [q for q in questions if q["split"] in ("train", "valid")]
    questions = random.Random(0).sample(questions, min(n_queries, len(questions)))
    position = {a["answer_id"]: i for i, a in enumerate(answers)}
    relevant = [{position[a] for a in q["answer_ids"] if a in position} for q in questions]
    texts = [a["answer_zh"] for a in answers]
    qtexts = [q["question_zh"] for q in questions]

    index = WhooshIndex(workdir / "articles", segmenter.cache_dir)
    generation, ix = index.create_generation(segmenter.snapshot)
    now = datetime.now(UTC)
    t = time.perf_counter()
    writer = index.bulk_writer(ix, len(texts))
    for i, text in enumerate(texts):
        title = text.split("。")[0][:60]
        article = Article(id=i, title=title, body=text, state=ArticleState.published, audience="内部公开",
                          owner="bench", created_by="bench", created_at=now, updated_at=now, tags=[],
                          applies_to_versions=[])
        writer.add_document(**article_document(article, segmenter))
    writer.commit()
    index.switch(generation)
    build_s = time.perf_counter() - t
    audience = {"status": "已发布", "audience": ["内部公开"]}
    suggested, searched = [], []
    t = time.perf_counter()
    for q in qtexts:
        terms = index.query_tokens(q)
        suggested.append([h.entity_id for h in index.similar_to(terms, k=10, filters=audience, kind="article")])
    suggest_ms = (time.perf_counter() - t) / len(qtexts) * 1000
    for q in qtexts:
        hits, _ = index.search(q, limit=10, filters=audience, kind="article")
        searched.append([h.entity_id for h in hits])
    index.close()
    return {"docs": len(texts), "queries": len(qtexts), "build_s": build_s, "suggest_ms": suggest_ms,
            "rows": {"product (suggestions)": metrics(suggested, relevant),
                     "product (/search)": metrics(searched, relevant),
                     "bm25-all-tokens": metrics(BM25Baseline(texts).rank(qtexts, [None] * len(qtexts)), relevant)}}


def gap_sanity(segmenter, workdir: Path) -> tuple[list[dict], int, float]:
    from sqlalchemy import insert

    from classifier.clusters import cluster_tokens
    from kb.articles.gaps import gap_report, uncovered_cases
    from kb.articles.queries import Reader
    from kb.db import make_session
    from kb.models import Case
    from kb.settings import Settings
    from kb.setup import prepare_database

    df = read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv")
    engine = prepare_database(Settings(var_dir=workdir / "gaps"))
    rows = []
    for i, r in enumerate(df.itertuples()):
        at = datetime.fromisoformat(r.reply_time or r.time).replace(tzinfo=UTC)
        rows.append(dict(number=f"FW{at:%Y%m%d}{i:04d}", contact_at=at, channel="网站", customer_name="市民",
                         customer_kind="个人客户", subject=r.topic[:200], description=r.detail[:5000],
                         attachments=[], type="投诉", priority="中", status="resolved", received_at=at,
                         sla_explanation={}, solution_temp=r.reply[:5000], resolved_at=at, tags=[], reopen_count=0,
                         created_by="bench", created_at=at, updated_at=at))
    with engine.begin() as conn:
        conn.execute(insert(Case), rows)
    now = max(r["resolved_at"] for r in rows) + timedelta(days=1)
    t = time.perf_counter()
    with make_session(engine) as session:
        cases = uncovered_cases(session, since=now - timedelta(days=3650), reader=Reader(None, True))
        report = gap_report(cases, lambda text: segmenter.tokens(segmenter.normalize(text), "classify"),
                            cluster_tokens, now=now, limit=10)
    seconds = time.perf_counter() - t
    engine.dispose()
    return report, len(cases), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=3000)
    args = parser.parse_args()
    segmenter = default_segmenter()
    with tempfile.TemporaryDirectory() as tmp:
        result = article_quality(segmenter, args.queries, Path(tmp))
        gaps, considered, gap_s = gap_sanity(segmenter, Path(tmp))
    print(f"InsuranceQA-zh: {result['docs']} answers as published articles, {result['queries']} train+valid "
          f"questions; index {result['build_s']:.0f} s, suggestion query {result['suggest_ms']:.1f} ms")
    print(f"{'system':24s} {'hit@1':>7s} {'hit@10':>7s} {'MRR@10':>7s}  vs baseline")
    base = result["rows"]["bm25-all-tokens"]["MRR@10"]
    for system, m in result["rows"].items():
        ratio = "" if system == "bm25-all-tokens" else f"{m['MRR@10'] / base:6.3f}×"
        print(f"{system:24s} {m['hit@1']:7.4f} {m['hit@10']:7.4f} {m['MRR@10']:7.4f}  {ratio}")
    print(f"\nTop knowledge gaps in TipDM 2020 messages with replies ({considered} resolved cases, no articles; "
          f"clustered in {gap_s:.1f} s):")
    print(f"{'#':>2s} {'size':>4s}  {'suggested title':40s} top words")
    for i, g in enumerate(gaps, 1):
        print(f"{i:2d} {g['size']:4d}  {g['suggested_title'][:40]:40s} {' '.join(g['top_terms'])}")
    product = result["rows"]["product (suggestions)"]["MRR@10"]
    search = result["rows"]["product (/search)"]["MRR@10"]
    finish(product >= base and search >= base and len(gaps) == 10,
           f"article MRR@10 suggestions {product:.3f} / search {search:.3f} vs BM25 {base:.3f}; "
           f"top gap sizes {[g['size'] for g in gaps]}")


if __name__ == "__main__":
    main()
