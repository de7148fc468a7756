"""The numpy postings reader and BM25F must give exactly what Whoosh's own matchers give —
across several segments, with deleted documents, inlined (df = 1) and multi-block postings."""

from __future__ import annotations

import random

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.query import Or, Term
from whoosh.scoring import BM25F

from indexer.postings import SegmentCache, allowed, bm25f, segments, term_postings, top
from indexer.schema import make_schema

WORDS = [f"w{i}" for i in range(60)]


def _doc(i: int, rng: random.Random) -> dict:
    # skewed word frequencies: w0 is in most documents (many blocks), w59 in very few
    title = " ".join(rng.choice(WORDS[: rng.randint(1, 60)]) for _ in range(rng.randint(1, 8)))
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30)))
    return {"doc_id": f"case:{i}", "kind": "case", "entity_id": i, "type": rng.choice(["咨询", "投诉"]),
            "title": title, "body": body}


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    rng = random.Random(7)
    ix = whoosh_index.create_in(str(tmp_path_factory.mktemp("ix")), make_schema())
    for start, stop in ((0, 700), (700, 760), (760, 780)):      # three commits → three segments
        with ix.writer() as w:
            for i in range(start, stop):
                w.add_document(**_doc(i, rng))
    with ix.writer() as w:                                         # deletions in two segments
        for i in (3, 5, 400, 701, 702):
            w.delete_by_term("doc_id", f"case:{i}")
    with ix.writer() as w:
        w.add_document(doc_id="case:999", kind="case", entity_id=999, type="建议", title="zzunique w1", body="")
    return ix


def test_index_has_several_segments_and_deletions(ix):
    with ix.searcher() as s:
        assert len(s.leaf_searchers()) >= 2
        assert any(leaf.reader().has_deletions() for leaf, _ in s.leaf_searchers())


@pytest.mark.parametrize("term", ["w0", "w1", "w30", "w59", "zzunique", "absent"])
def test_term_postings_equal_whoosh_matcher(ix, term):
    with ix.searcher() as s:
        for leaf, _ in s.leaf_searchers():
            reader = leaf.reader()
            ids, tf = term_postings(reader, "title", term)
            expected = []
            if (("title", term)) in reader:
                m = reader.postings("title", term)
                while m.is_active():
                    expected.append((m.id(), m.weight()))
                    m.next()
            live = [(int(d), float(w)) for d, w in zip(ids, tf) if not reader.is_deleted(int(d))]
            assert live == expected


@pytest.mark.parametrize("terms", [["w0"], ["w1", "w30", "w59"], ["w0", "w2", "zzunique", "absent"]])
def test_bm25f_scores_equal_whoosh_search(ix, terms):
    boosts = {"title": 1.0, "body": 0.6}
    weighted = [(field, t, boost * (1 + i / 10)) for i, t in enumerate(terms) for field, boost in boosts.items()]
    with ix.searcher(weighting=BM25F()) as s:
        leaves = segments(s, boosts, SegmentCache(), "g")
        scores = bm25f(s, leaves, weighted)
        mask = allowed(s, leaves, {})
        ours = dict(top(scores, 10_000, mask))
        query = Or([Term(field, t, boost=b) for field, t, b in weighted])
        theirs = {r.docnum: r.score for r in s.search(query, limit=None)}
    assert set(ours) == set(theirs)
    for doc, score in theirs.items():
        assert ours[doc] == pytest.approx(score, rel=1e-6)


def test_filters_and_deletions_are_applied(ix):
    with ix.searcher(weighting=BM25F()) as s:
        leaves = segments(s, ("title", "body"), SegmentCache(), "g")
        scores = bm25f(s, leaves, [("title", "w0", 1.0), ("body", "w0", 1.0)])
        hits = top(scores, 10_000, allowed(s, leaves, {"type": "投诉"}))
        docs = [s.stored_fields(d) for d, _ in hits]
        assert docs and all(d["entity_id"] not in (3, 5, 400, 701, 702) for d in docs)
        expected = {r["entity_id"] for r in s.search(Term("title", "w0") | Term("body", "w0"),
                                                     filter=Term("type", "投诉"), limit=None)}
        assert {d["entity_id"] for d in docs} == expected


def _assert_equal_to_whoosh(s, cache, terms, rel=1e-6):
    boosts = {"title": 1.0, "body": 0.6}
    weighted = [(field, t, b) for t in terms for field, b in boosts.items()]
    leaves = segments(s, boosts, cache, "g")
    ours = dict(top(bm25f(s, leaves, weighted), 100_000, allowed(s, leaves, {})))
    theirs = {r.docnum: r.score for r in s.search(Or([Term(f, t, boost=b) for f, t, b in weighted]), limit=None)}
    assert set(ours) == set(theirs)
    for doc, score in theirs.items():
        assert ours[doc] == pytest.approx(score, rel=rel)


def test_a_small_cache_stays_within_its_budget_and_scores_stay_exact(ix):
    cache = SegmentCache(cache_mb=0.005)          # a few hundred postings: most terms are evicted again
    with ix.searcher(weighting=BM25F()) as s:
        for _ in range(2):
            for word in WORDS:
                _assert_equal_to_whoosh(s, cache, [word])
    assert 0 < cache._postings.size <= cache._postings.budget
    assert 0 < cache._normalised.size <= cache._normalised.budget


def _index_of(path, count: int, rng: random.Random):
    """An index of ``count`` random documents in one segment."""
    ix = whoosh_index.create_in(str(path), make_schema())
    with ix.writer() as w:
        for i in range(count):
            w.add_document(**_doc(i, rng))
    return ix


def test_scores_stay_exact_after_a_commit_changes_the_average_field_length(tmp_path):
    ix = _index_of(tmp_path, 200, random.Random(3))
    cache = SegmentCache()
    with ix.searcher(weighting=BM25F()) as s:
        _assert_equal_to_whoosh(s, cache, ["w0", "w1", "w7"])
    with ix.writer() as w:                        # long documents: every field's average length grows
        for i in range(200, 260):
            w.add_document(doc_id=f"case:{i}", kind="case", entity_id=i, type="咨询",
                           title=" ".join(["w1"] * 40), body=" ".join(["w0", "w7"] * 60))
    with ix.searcher(weighting=BM25F()) as s:
        _assert_equal_to_whoosh(s, cache, ["w0", "w1", "w7"])    # the first segment's cached parts recomputed


def test_top_orders_and_bounds():
    scores = np.array([0.0, 3.0, 1.0, 5.0, 0.0, 2.0])
    assert top(scores, 2) == [(3, 5.0), (1, 3.0)]
    assert top(scores, 10, np.array([True, False, True, True, True, True])) == [(3, 5.0), (5, 2.0), (2, 1.0)]
    assert top(scores, 1, np.array([True, True, True, False, True, True])) == [(1, 3.0)]   # best masked out


def test_parallel_bulk_writer_gives_the_same_hits_as_one_process(tmp_path, segmenter):
    """Large rebuilds write with two processes (one segment each); the hits must not change."""
    from indexer.whoosh_index import BULK_PARALLEL_FROM, WhooshIndex

    rng = random.Random(3)
    docs = [_doc(i, rng) for i in range(400)]
    hits = []
    for name, expected in (("one", 1), ("two", BULK_PARALLEL_FROM)):
        index = WhooshIndex(tmp_path / name, tmp_path / "jieba")
        generation, ix = index.create_generation(segmenter.snapshot)
        writer = index.bulk_writer(ix, expected)
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
        index.switch(generation)
        hits.append([(h.entity_id, round(h.score, 6)) for h in index.similar_to(["w3", "w0", "w41"], k=20)])
        with index.open().searcher() as s:
            assert s.doc_count() == 400
            assert len(s.leaf_searchers()) == (1 if name == "one" else 2)
        index.close()
    assert hits[0] == hits[1] and hits[0]


def test_filters_that_exclude_every_discriminating_match_still_find_the_common_word_matches(
        tmp_path, segmenter, monkeypatch):
    """Rare terms only in another product's cases: the common terms are then scored exactly."""
    import indexer.whoosh_index as wi

    monkeypatch.setattr(wi, "MIN_COMMON_DF", 0)
    monkeypatch.setattr(wi, "COMMON_DF_RATIO", 0.2)
    monkeypatch.setattr(wi, "SELECTIVE_FILTER_DOCS", 0)        # the two-phase path, not the direct one
    index = wi.WhooshIndex(tmp_path / "ix", tmp_path / "jieba")
    generation, ix = index.create_generation(segmenter.snapshot)
    with ix.writer() as w:
        w.add_document(doc_id="case:0", kind="case", entity_id=0, product="甲", title="打印机 卡纸 e5001")
        for i in range(1, 10):
            w.add_document(doc_id=f"case:{i}", kind="case", entity_id=i, product="乙" if i < 3 else "丙",
                           title="打印机 不 出纸" if i < 3 else f"其他 问题 {i}")
    index.switch(generation)
    assert [h.entity_id for h in index.similar_to(["打印机", "e5001"], k=5)][0] == 0
    hits = index.similar_to(["打印机", "e5001"], k=5, filters={"product": "乙"})
    assert sorted(h.entity_id for h in hits) == [1, 2]
    index.close()


def test_full_text_search_pages_and_counts_like_whoosh(ix, tmp_path, segmenter):
    """search_tokens (numpy) = Whoosh's own search of the same Or query: order, scores, total."""
    from indexer.whoosh_index import SEARCH_BOOSTS, TEXT_FIELDS, WhooshIndex

    root = tmp_path / "search"
    index = WhooshIndex(root, tmp_path / "jieba")
    generation, new = index.create_generation(segmenter.snapshot)
    rng = random.Random(11)
    with new.writer() as w:
        for i in range(300):
            w.add_document(**_doc(i, rng), solution=" ".join(rng.choice(WORDS) for _ in range(5)))
    with new.writer() as w:
        w.delete_by_term("doc_id", "case:7")
    index.switch(generation)
    tokens = ["w3", "w0", "w41", "absent"]
    hits, total = index.search_tokens(tokens, offset=10, limit=10, filters={"type": "投诉"})
    with new.searcher(weighting=BM25F()) as s:
        query = Or([Term(f, t, boost=SEARCH_BOOSTS[f]) for t in tokens for f in TEXT_FIELDS])
        theirs = s.search(query, limit=None, filter=Term("type", "投诉"))
        expected = [(r["entity_id"], r.score) for r in theirs]
    assert total == len(expected)
    assert [(h.entity_id, pytest.approx(h.score, rel=1e-6)) for h in hits] == expected[10:20]
    index.close()


def test_selective_filters_score_the_allowed_documents_exactly_like_whoosh(tmp_path, segmenter):
    """Few documents allowed (articles among many cases, a small product): every term is scored
    on just those — the same order and scores as Whoosh's own filtered search."""
    from indexer.whoosh_index import FIELD_BOOSTS, WhooshIndex

    index = WhooshIndex(tmp_path / "ix", tmp_path / "jieba")
    generation, new = index.create_generation(segmenter.snapshot)
    rng = random.Random(5)
    with new.writer() as w:
        for i in range(400):
            doc = _doc(i, rng)
            w.add_document(**{**doc, "type": "建议" if i % 50 == 0 else doc["type"]})
    index.switch(generation)
    tokens = ["w1", "w0", "w0", "w2", "w5"]
    hits = index.similar_to(tokens, k=5, filters={"type": "建议"})
    weights = {"w1": 1.0, "w0": 1.0 + np.log(2), "w2": 1.0, "w5": 1.0}
    with new.searcher(weighting=BM25F()) as s:
        query = Or([Term(f, t, boost=b * weights[t]) for t in weights for f, b in FIELD_BOOSTS.items()])
        theirs = s.search(query, limit=5, filter=Term("type", "建议"))
        expected = [(r["entity_id"], r.score) for r in theirs]
    assert len(expected) == 5
    assert [(h.entity_id, pytest.approx(h.score, rel=1e-6)) for h in hits] == expected
    assert index.similar_to(tokens, k=5, filters={"type": "无此类型"}) == []
    index.close()


def test_a_small_commit_reuses_the_bm25_parts_and_stays_within_the_tolerance(tmp_path):
    from indexer.postings import AVGFL_TOLERANCE

    rng = random.Random(4)
    ix = _index_of(tmp_path, 500, rng)
    cache = SegmentCache()
    with ix.searcher(weighting=BM25F()) as s:
        _assert_equal_to_whoosh(s, cache, ["w0", "w1", "w7"])
        first = segments(s, ("title", "body"), cache, "g")[0]
        before = cache._normalised.get((first.key_prefix, "norm", "title", "w0"))
        avgfl = s.avg_field_length("title")
    with ix.writer() as w:                        # one more document of about average length
        w.add_document(**_doc(500, rng))
    with ix.searcher(weighting=BM25F()) as s:
        assert abs(s.avg_field_length("title") - avgfl) <= AVGFL_TOLERANCE * avgfl
        _assert_equal_to_whoosh(s, cache, ["w0", "w1", "w7"], rel=AVGFL_TOLERANCE)
        assert cache._normalised.get((first.key_prefix, "norm", "title", "w0")) is before     # not recomputed


def test_the_average_field_length_is_summed_over_the_segments_once_per_searcher_and_field(ix, monkeypatch):
    """Whoosh sums every segment's field length per call; asked per term, field and segment,
    that sum was 40 % of a search over 19 segments. Scores stay Whoosh's."""
    from whoosh.reading import SegmentReader

    calls = []
    original = SegmentReader.field_length
    monkeypatch.setattr(SegmentReader, "field_length", lambda self, name: calls.append(name) or original(self, name))
    boosts = {"title": 1.0, "body": 0.6}
    weighted = [(field, t, b) for t in ["w0", "w1", "w2", "w3", "w30", "w59"] for field, b in boosts.items()]
    with ix.searcher(weighting=BM25F()) as s:
        leaves = segments(s, boosts, SegmentCache(), "g")
        scores = bm25f(s, leaves, weighted)
        ours = len(calls)
        again = bm25f(s, leaves, weighted)
        assert len(calls) == ours                       # the second query asks nothing
        theirs = {r.docnum: r.score for r in s.search(Or([Term(f, t, boost=b) for f, t, b in weighted]), limit=None)}
    assert len(leaves) >= 3 and 0 < ours <= len(boosts) * len(leaves)   # not per term: 6 terms here
    assert np.array_equal(scores, again)
    for doc, score in theirs.items():
        assert scores[doc] == pytest.approx(score, rel=1e-6)


def test_document_frequencies_are_summed_over_the_segments_once_per_searcher(ix):
    from indexer.postings import Leaves, doc_frequency

    with ix.searcher() as s:
        leaves = segments(s, {"title": 1.0, "body": 0.6}, SegmentCache(), "g")
        first = {(f, t): doc_frequency(leaves, f, t) for f in ("title", "body") for t in ("w0", "w7", "zzunique", "absent")}
        assert first == {(f, t): s.doc_frequency(f, t) for f, t in first}
        import dataclasses

        blind = Leaves((dataclasses.replace(leaf, cache=None, packed=None) for leaf in leaves), leaves.average_lengths)
        blind.frequencies = leaves.frequencies    # a second look must not reach the segments
        assert {key: doc_frequency(blind, *key) for key in first} == first


def test_a_long_list_scored_for_a_few_documents_is_searched_not_kept(ix, monkeypatch):
    """bm25f_for on a few candidates: a common word's whole BM25 part was computed and cached
    to score them (at 1M documents most of a short draft's search); a list longer than
    FULL_PART_RATIO × the candidates is searched for them instead. Same scores either way."""
    from indexer import postings
    from indexer.postings import bm25f_for

    weighted = [("title", "w0", 1.0), ("body", "w0", 0.6), ("title", "w59", 1.3)]
    picked = 6
    with ix.searcher(weighting=BM25F()) as s:
        cache = SegmentCache()
        leaves = segments(s, ("title", "body"), cache, "g")
        everything = bm25f(s, leaves, weighted)              # whole lists, as phase 1 scores
        holding, not_holding = np.flatnonzero(everything > 0), np.flatnonzero(everything == 0)
        assert len(holding) > 10 * picked and len(not_holding) >= 2
        docs = np.sort(np.concatenate([holding[::len(holding) // picked][:picked], not_holding[:2]]))
        for ratio in (0, 10**9):                             # searched / computed whole and kept
            monkeypatch.setattr(postings, "FULL_PART_RATIO", ratio)
            fresh = SegmentCache()
            got = bm25f_for(s, segments(s, ("title", "body"), fresh, "g"), weighted, docs)
            np.testing.assert_allclose(got, everything[docs], rtol=1e-12)
            kept = {key[-1] for key in fresh._normalised._items if key[1] == "norm"}
            assert ("w0" in kept) == (ratio > 0), kept
