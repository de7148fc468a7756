"""The LSA representation that re-ranks similar cases: the fast embedding equals
scikit-learn's, it brings a rewording closer than an unrelated request, and the blend."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier import dataset
from classifier.semantic import MAX_FEATURES, GramRows, blend, fit_semantic
from kb.text.segment import char_ngrams
from tests.classifier.unseen import UNSEEN
from tests.conftest import DATA_DIR

TEXTS = [e.text for e in dataset.from_demo(DATA_DIR / "demo" / "cases.jsonl")]


def test_fast_embedding_equals_scikit_learns_transform(segmenter):
    model = fit_semantic(TEXTS, segmenter, dimensions=64)
    vec = TfidfVectorizer(analyzer=lambda t: char_ngrams(segmenter.normalize(t), 1, 2), sublinear_tf=True, min_df=1,
                          max_features=MAX_FEATURES, dtype=np.float32)
    X = vec.fit_transform(TEXTS)
    svd = TruncatedSVD(n_components=64, algorithm="randomized", n_iter=5, random_state=0).fit(X)
    queries = [t for t, _, _ in UNSEEN[:8]]
    reference = vec.transform(queries) @ svd.components_.T
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    np.testing.assert_allclose(model.embed(queries, segmenter), reference, atol=1e-4)


def test_a_rewording_lands_closer_than_an_unrelated_request(segmenter):
    model = fit_semantic(TEXTS, segmenter)
    q, same, other = model.embed(["会员App今天怎么也登不上去，一直转圈",
                                  "乐享会员App登录失败，输入密码后提示网络异常",
                                  "想把宽带套餐从300M升级到1000M"], segmenter)
    assert q @ same > q @ other + 0.1


def test_a_large_history_fits_the_svd_on_a_sample_but_knows_every_texts_ngrams(segmenter):
    """The SVD sees ``svd_rows`` texts; the vocabulary and idf still come from all of them,
    and the sampled space keeps a rewording close."""
    sampled = fit_semantic(TEXTS, segmenter, svd_rows=120)
    whole = fit_semantic(TEXTS, segmenter, dimensions=64)
    assert sampled.rows == len(TEXTS) and sampled.vocabulary == whole.vocabulary
    np.testing.assert_array_equal(sampled.idf, whole.idf)
    assert sampled.projection.shape == (len(sampled.vocabulary), 119)     # k ≤ sample − 1
    assert sampled.version != fit_semantic(TEXTS, segmenter, svd_rows=150).version
    q, same, other = sampled.embed(["会员App今天怎么也登不上去，一直转圈",
                                    "乐享会员App登录失败，输入密码后提示网络异常",
                                    "想把宽带套餐从300M升级到1000M"], segmenter)
    assert q @ same > q @ other + 0.1


def test_too_few_texts_give_no_representation_and_unknown_text_is_the_zero_vector(segmenter):
    assert fit_semantic(TEXTS[:10], segmenter) is None
    model = fit_semantic(TEXTS, segmenter)
    vectors = model.embed(["ꙮꙮꙮ", "发票开不出来"], segmenter)
    assert not vectors[0].any() and np.linalg.norm(vectors[1]) > 0.99


def test_blend_mixes_normalised_lexical_score_and_cosine():
    lexical = np.array([10.0, 8.0, 2.0])
    cosine = np.array([0.1, 0.9, -0.5])
    np.testing.assert_allclose(blend(lexical, cosine, 0.0), [1.0, 0.8, 0.2])
    np.testing.assert_allclose(blend(lexical, cosine, 0.3), [0.73, 0.83, 0.14], atol=1e-6)   # the rewording moves up


def test_literal_cosines_are_scikit_learns_tfidf_cosines(segmenter):
    """The literal vector is the TF-IDF row before the projection: the cosine of two texts'
    rows of TfidfVectorizer (same n-grams, sublinear tf, l2) — float16 weights aside."""
    model = fit_semantic(TEXTS, segmenter, dimensions=64)
    vec = TfidfVectorizer(analyzer=lambda t: char_ngrams(segmenter.normalize(t), 1, 2), sublinear_tf=True, min_df=1,
                          max_features=MAX_FEATURES, dtype=np.float32).fit(TEXTS)
    draft = "会员App今天怎么也登不上去，一直转圈"
    candidates = [t for t, _, _ in UNSEEN[:12]] + ["ꙮꙮꙮ", draft]
    reference = (vec.transform(candidates) @ vec.transform([draft]).T).toarray().ravel()
    got = model.literal_cosines(model.literal([draft], segmenter)[0], model.literal(candidates, segmenter))
    assert reference[:12].max() < 0.99 < got[-1] and got[-2] == 0.0   # itself 1, no known n-gram 0
    np.testing.assert_allclose(got, reference, atol=3e-3)
    assert len(set(np.round(reference[:12], 3))) > 5                   # the texts differ: not a constant


def test_literal_vectors_kept_back_to_back_give_each_rows_own_vector_and_cosine(segmenter):
    """How the vector store keeps them: ``take`` gathers any rows in any order, an empty row
    (no known n-gram) included, and the cosines are those of the rows one by one."""
    model = fit_semantic(TEXTS, segmenter, dimensions=64)
    texts = [t for t, _, _ in UNSEEN[:9]] + ["ꙮꙮꙮ"]
    grams = model.literal(texts, segmenter)
    rows = GramRows.of(grams)
    assert len(rows) == 10 and len(rows.row(9).columns) == 0
    order = np.array([9, 3, 0, 3, 7])
    taken = rows.take(order)
    for got, i in zip(range(len(order)), order, strict=True):
        assert taken.row(got).columns.tolist() == grams[i].columns.tolist()
        np.testing.assert_array_equal(taken.row(got).weights, grams[i].weights)
    draft = model.literal(["会员App今天怎么也登不上去，一直转圈"], segmenter)[0]
    one_by_one = np.array([model.literal_cosines(draft, [grams[i]])[0] for i in order])
    np.testing.assert_allclose(model.literal_cosines(draft, taken), one_by_one, rtol=1e-6)
    assert one_by_one[0] == 0.0 and one_by_one[1:].max() > 0
    assert len(rows.take(np.zeros(0, dtype=np.int64))) == 0
    assert model.literal_cosines(draft, rows.take(np.zeros(0, dtype=np.int64))).shape == (0,)


def test_represent_gives_embed_and_literal_at_once(segmenter):
    model = fit_semantic(TEXTS, segmenter, dimensions=64)
    for texts in ([t for t, _, _ in UNSEEN[:6]] + ["ꙮꙮꙮ"], [UNSEEN[0][0]], []):
        vectors, grams = model.represent(texts, segmenter)
        np.testing.assert_array_equal(vectors, model.embed(texts, segmenter))
        assert len(grams) == len(texts) == len(vectors)
        for g, alone in zip(grams, model.literal(texts, segmenter), strict=True):
            np.testing.assert_array_equal(g.columns, alone.columns)
            np.testing.assert_array_equal(g.weights, alone.weights)


def test_blend_gives_the_literal_cosine_its_share():
    lexical = np.array([10.0, 8.0, 2.0])
    cosine = np.array([0.1, 0.9, -0.5])
    literal = np.array([0.2, 0.7, 0.9])
    # (1 − 0.2 − 0.4) · lexical / 10 + 0.2 · max(cosine, 0) + 0.4 · literal
    np.testing.assert_allclose(blend(lexical, cosine, 0.2, literal=literal, literal_weight=0.4),
                               [0.4 + 0.02 + 0.08, 0.32 + 0.18 + 0.28, 0.08 + 0.0 + 0.36], atol=1e-6)


def test_cached_vectors_equal_fresh_ones_and_are_kept_by_key_within_the_bound(segmenter):
    from classifier.semantic import VectorCache

    model = fit_semantic(TEXTS, segmenter)
    cache = VectorCache(max_items=3)
    texts = [t for t, _, _ in UNSEEN[:4]]
    read = []

    def fetch(positions):
        read.append(list(positions))
        return [texts[i] for i in positions]

    first, _, _ = model.vectors_for([1, 2, 3, 4], fetch, segmenter, cache)
    np.testing.assert_allclose(first, model.embed(texts, segmenter), atol=2e-3)      # float16 storage
    assert len(cache) == 3 and read == [[0, 1, 2, 3]]                                # the oldest was dropped
    again, _, _ = model.vectors_for([4, 1], lambda pos: [texts[0] for _ in pos], segmenter, cache)
    np.testing.assert_allclose(again[0], first[3], atol=2e-3)                        # 4 from the cache
    np.testing.assert_allclose(again[1], first[0], atol=2e-3)                        # 1 read and embedded again


def test_the_same_request_in_traditional_characters_has_the_same_fingerprint(segmenter):
    from classifier.semantic import fingerprint

    assert fingerprint("我怎麼提升花唄的額度", segmenter) == fingerprint("我怎么提升 花呗的额度", segmenter)
    assert fingerprint("我怎么提升花呗的额度", segmenter) != fingerprint("怎么提升花呗的额度", segmenter)


def test_a_candidate_that_is_the_drafts_own_text_comes_first():
    lexical = np.array([10.0, 6.0])
    scores = blend(lexical, np.array([0.95, 0.99]), same=np.array([False, True]))
    assert scores[1] > scores[0]


def test_one_text_embeds_as_it_does_among_others(segmenter):
    model = fit_semantic(TEXTS, segmenter)
    texts = [t for t, _, _ in UNSEEN[:5]] + ["ꙮꙮꙮ"]
    together = model.embed(texts, segmenter)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(model.embed([text], segmenter)[0], together[i], atol=1e-5)
