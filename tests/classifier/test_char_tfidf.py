"""Character n-gram TF-IDF from integer codes weighs exactly as scikit-learn's TfidfVectorizer."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier import dataset
from classifier.char_tfidf import fit_char_tfidf, ngram_code, ngram_of
from kb.text import CharNgramAnalyzer
from kb.text.segment import char_ngrams
from tests.classifier.unseen import UNSEEN
from tests.conftest import DATA_DIR

TEXTS = [e.text for e in dataset.from_demo(DATA_DIR / "demo" / "cases.jsonl")]


def by_name(matrix, vocabulary: dict[str, int]) -> dict[tuple[int, str], float]:
    names = {j: g for g, j in vocabulary.items()}
    coo = matrix.tocoo()
    return {(int(r), names[int(c)]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)}


def test_fitted_rows_and_new_rows_equal_tfidf_vectorizers(segmenter):
    norms = [segmenter.normalize(t) for t in TEXTS]
    block, X = fit_char_tfidf(norms, 1, 3, min_df=2)
    reference = TfidfVectorizer(analyzer=lambda t: char_ngrams(t, 1, 3), sublinear_tf=True, min_df=2)
    R = reference.fit_transform(norms)
    assert block.vocabulary.keys() == reference.vocabulary_.keys()
    ours, theirs = by_name(X, block.vocabulary), by_name(R, reference.vocabulary_)
    assert ours.keys() == theirs.keys()
    assert max(abs(ours[k] - theirs[k]) for k in ours) < 1e-12

    unseen = [t for t, _, _ in UNSEEN] + ["ꙮꙮ", ""]
    new_ours = block.transform([segmenter.normalize(t) for t in unseen])
    new_theirs = reference.transform([segmenter.normalize(t) for t in unseen])
    a, b = by_name(new_ours, block.vocabulary), by_name(new_theirs, reference.vocabulary_)
    assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-12

    # handed back as a fitted TfidfVectorizer over raw text (bundles, the scikit-learn path)
    vec = block.vectorizer(CharNgramAnalyzer(segmenter.version, 1, 3))
    assert abs(vec.transform(unseen) - new_ours).max() < 1e-12


def test_max_features_keeps_the_most_frequent_ngrams(segmenter):
    norms = [segmenter.normalize(t) for t in TEXTS]
    block, X = fit_char_tfidf(norms, 1, 2, max_features=500, dtype=np.float32)
    assert X.shape == (len(TEXTS), 500) and X.dtype == np.float32
    totals: dict[str, int] = {}
    for t in norms:
        for g in char_ngrams(t, 1, 2):
            totals[g] = totals.get(g, 0) + 1
    kept = block.vocabulary.keys()
    assert min(totals[g] for g in kept) >= max(n for g, n in totals.items() if g not in kept)


def test_codes_name_their_ngrams():
    for gram in ["发", "发票", "开不了", "a b", "😀好"]:
        assert ngram_of(ngram_code(gram)) == gram
