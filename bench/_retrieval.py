"""Shared pieces of the retrieval benchmarks: pair sets → clusters, metrics, the product's
index built straight from texts, and the two plain baselines."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import jieba
import numpy as np

from indexer.whoosh_index import WhooshIndex


def clusters_from_pairs(df) -> tuple[list[str], list[list[int]]]:
    """Every sentence is a past case; sentences linked by label-1 pairs form clusters."""
    texts: list[str] = []
    ids: dict[str, int] = {}

    def sid(t: str) -> int:
        if t not in ids:
            ids[t] = len(texts)
            texts.append(t)
        return ids[t]

    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, label in zip(df.text_a, df.text_b, df.label, strict=True):
        ia, ib = sid(a), sid(b)
        if label == "1":
            parent[find(ia)] = find(ib)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(texts)):
        groups[find(i)].append(i)
    return texts, [g for g in groups.values() if len(g) >= 2]


def queries_from_clusters(clusters: list[list[int]], limit: int | None, seed: int = 0):
    queries = [(q, set(c) - {q}) for c in clusters for q in c]
    if limit and len(queries) > limit:
        queries = random.Random(seed).sample(queries, limit)
    return queries


def metrics(ranked: list[list[int]], relevant: list[set[int]]) -> dict[str, float]:
    hit1 = hit5 = hit10 = mrr = recall = 0.0
    for r, rel in zip(ranked, relevant, strict=True):
        top = r[:10]
        first = next((i for i, d in enumerate(top) if d in rel), None)
        hit1 += first == 0
        hit5 += first is not None and first < 5
        hit10 += first is not None
        mrr += 1.0 / (first + 1) if first is not None else 0.0
        recall += len(rel & set(top)) / len(rel)
    n = max(len(ranked), 1)
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "hit@10": hit10 / n, "MRR@10": mrr / n, "recall@10": recall / n}


def build_product_index(root: Path, segmenter, texts: list[str], *, field: str = "title") -> WhooshIndex:
    """The product's index and documents, fed from plain texts (no database round-trip)."""
    index = WhooshIndex(root, segmenter.cache_dir)
    generation, ix = index.create_generation(segmenter.snapshot)
    writer = ix.writer(limitmb=512)
    for i, text in enumerate(texts):
        tokens = " ".join(segmenter.tokens(segmenter.normalize(text), "index"))
        writer.add_document(doc_id=f"case:{i}", kind="case", entity_id=i, status="已解决",
                            updated_at="2024-01-01T00:00:00", **{field: tokens})
    writer.commit()
    index.switch(generation)
    return index


def product_rank(index: WhooshIndex, texts: list[str], queries, k: int = 10) -> list[list[int]]:
    out = []
    for q, _ in queries:
        hits = index.similar(texts[q] if isinstance(q, int) else q, k=k + 1)
        out.append([h.entity_id for h in hits if h.entity_id != q][:k])
    return out


def candidate_features(index: WhooshIndex, texts: list[str], drafts, semantic, segmenter, *, candidates: int,
                       cache=None, vectors: list | None = None):
    """For each draft (a text index, or (text, None) for an outside query): the product's
    lexical top ``candidates`` (the draft itself excluded) and their ranker features
    (classifier.ranker) with the LSA and literal cosines; also the re-rank time per draft in ms
    (embedding draft and candidates, features, blend, sort). With ``cache`` (a
    classifier.semantic.VectorCache) candidates' vectors are kept between drafts, as
    suggestions keep them. ``vectors``, when given, gets each draft's (LSA vector, candidates'
    LSA vectors), which a ranker's link space reads."""
    import time

    from classifier.ranker import Candidate, blend_scores, feature_matrix
    from classifier.semantic import VectorCache, fingerprint

    out, times = [], []
    for q in drafts:
        query = texts[q] if isinstance(q, int) else q
        hits = [h for h in index.similar(query, k=candidates + 1) if h.entity_id != q][:candidates]
        t = time.perf_counter()
        if hits:
            query_vectors, query_grams = semantic.represent([query], segmenter)
            query_vector = query_vectors[0]
            found, prints, grams = semantic.vectors_for([h.entity_id for h in hits],
                                                        lambda pos: [texts[hits[i].entity_id] for i in pos], segmenter,
                                                        cache if cache is not None else VectorCache())
            cos = found @ query_vector
            same = prints == fingerprint(query, segmenter)
            literal = semantic.literal_cosines(query_grams[0], grams)
            X = feature_matrix([Candidate(lexical=h.score, cosine=float(c), same_text=bool(e), literal=float(lit))
                                for h, c, e, lit in zip(hits, cos, same, literal, strict=True)])
            np.argsort(-blend_scores(X), kind="stable")     # timed as suggestions do it; order_by orders later
        else:
            X = feature_matrix([])
            query_vector, found = None, None
        times.append((time.perf_counter() - t) * 1000)
        if vectors is not None:
            vectors.append((query_vector, found))
        out.append(([h.entity_id for h in hits], X))
    return out, times


def order_by(features, score, k: int = 10) -> list[list[int]]:
    """Each draft's candidates ordered by ``score(X)`` (stable: ties keep the lexical order)."""
    ranked = []
    for ids, X in features:
        if not ids:
            ranked.append([])
            continue
        order = np.argsort(-score(X), kind="stable")[:k]
        ranked.append([ids[i] for i in order])
    return ranked


class TfidfBaseline:
    """Plain jieba + scikit-learn TF-IDF cosine."""

    def __init__(self, texts: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vec = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False)
        self.X = self.vec.fit_transform(texts)

    def rank(self, query_texts: list[str], exclude: list[int | None], k: int = 10) -> list[list[int]]:
        Q = self.vec.transform(query_texts)
        out = []
        for i in range(Q.shape[0]):
            scores = (self.X @ Q[i].T).toarray().ravel()
            if exclude[i] is not None:
                scores[exclude[i]] = -1
            top = np.argpartition(-scores, k)[:k]
            out.append([int(t) for t in top[np.argsort(-scores[top])] if scores[t] > 0])
        return out


class BM25Baseline:
    """BM25 over all of the query's jieba tokens (bm25s)."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.retriever = bm25s.BM25()
        self.retriever.index([jieba.lcut(t) for t in texts], show_progress=False)

    def rank(self, query_texts: list[str], exclude: list[int | None], k: int = 10) -> list[list[int]]:
        docs, _ = self.retriever.retrieve([jieba.lcut(q) for q in query_texts], k=k + 1, show_progress=False,
                                          n_threads=1)
        return [[int(d) for d in row if d != ex][:k] for row, ex in zip(docs, exclude, strict=True)]
