"""Grouping short texts by topic, for knowledge gaps: TF-IDF over the segmented words,
reduced with truncated SVD (so near-synonymous wording lands close), then average-linkage
agglomerative clustering on cosine distance with a distance threshold — no number of
clusters to guess, and average linkage does not chain unrelated cases the way single
linkage (connected components of a similarity graph) does."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.text import current

DISTANCE_THRESHOLD = 0.65    # cosine distance; chosen by reading the TipDM clusters (bench/kb_quality.py)
SVD_COMPONENTS = 120
TOKEN_CACHE_TEXTS = 8000     # > the 3,000 cases a top-problems report clusters; a few MB per worker
GENERAL_IDF_FLOOR = 5.0      # words below this IDF in jieba's general-Chinese table (我, 说, 没有, 问题…)
                             # say nothing about the topic; without them narrative complaints stop clumping


def topic_tokens(text: str) -> list[str]:
    """A case's words for topic clustering, remembered per text and dictionary version: the top
    problems and the knowledge gaps segment the same few thousand recent cases on every visit
    (half of a 1.3 s top-problems report at 100k cases was jieba)."""
    return list(_cached_tokens(current().version, text))


@lru_cache(maxsize=TOKEN_CACHE_TEXTS)
def _cached_tokens(version: str, text: str) -> tuple[str, ...]:
    seg = current()
    return tuple(seg.tokens(seg.normalize(text), "classify"))


def _topic_words(tokens: list[str]) -> list[str]:
    import jieba.analyse

    idf = jieba.analyse.default_tfidf.idf_freq
    return [t for t in tokens if idf.get(t, GENERAL_IDF_FLOOR) >= GENERAL_IDF_FLOOR]


@dataclass(frozen=True)
class Cluster:
    members: list[int]           # indices into the input, most central first
    top_terms: list[str]


def cluster_tokens(token_lists: list[list[str]], *, min_size: int = 3,
                   threshold: float = DISTANCE_THRESHOLD) -> list[Cluster]:
    """Clusters of at least ``min_size`` texts, largest first."""
    if len(token_lists) < max(min_size, 2):
        return []
    vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=True, min_df=2, max_df=0.5)
    try:
        tfidf = vectorizer.fit_transform([_topic_words(tokens) for tokens in token_lists])
    except ValueError:                       # no term occurs twice: nothing to group
        return []
    keep = np.flatnonzero(tfidf.getnnz(axis=1) > 0)       # texts sharing no word with any other can't group
    if len(keep) < max(min_size, 2):
        return []
    tfidf = tfidf[keep]
    n_components = min(SVD_COMPONENTS, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    dense = TruncatedSVD(n_components, random_state=0).fit_transform(tfidf) if n_components >= 2 else tfidf.toarray()
    dense = normalize(dense)
    nonzero = np.linalg.norm(dense, axis=1) > 0
    dense, tfidf, keep = dense[nonzero], tfidf[nonzero], keep[nonzero]
    if len(keep) < max(min_size, 2):
        return []
    labels = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                     linkage="average").fit_predict(dense)
    vocabulary = np.asarray(vectorizer.get_feature_names_out())
    out = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if len(idx) < min_size:
            continue
        centroid = dense[idx].mean(axis=0)
        order = idx[np.argsort(-(dense[idx] @ centroid))]
        weights = np.asarray(tfidf[idx].mean(axis=0)).ravel()
        terms = [str(t) for t in vocabulary[np.argsort(-weights)[:6]] if len(t) > 1 or not t.isascii()]
        out.append(Cluster(members=[int(keep[i]) for i in order], top_terms=terms[:5]))
    out.sort(key=lambda c: -len(c.members))
    return out
