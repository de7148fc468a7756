"""Packed postings (indexer/packed.py) hold exactly Whoosh's postings, searches give the same
hits with and without them, and they follow their segment through commits and merges."""

from __future__ import annotations

import random

import pytest
from whoosh.query import Or, Term
from whoosh.scoring import BM25F

from indexer import integrity, packed
from indexer.postings import SegmentCache, allowed, bm25f, segments, term_postings, top
from indexer.whoosh_index import TEXT_FIELDS, WhooshIndex
from tests.indexer.test_postings import WORDS, _doc


def _write(index: WhooshIndex, generation: str, docs: list[dict], *, deletions=()) -> None:
    ix = index.open()
    with ix.writer() as w:
        for d in docs:
            w.add_document(**d)
        for i in deletions:
            w.delete_by_term("doc_id", f"case:{i}")
    packed.write_missing(ix, index.directory(generation))
    integrity.record(index.directory(generation))


@pytest.fixture
def index(tmp_path, segmenter):
    rng = random.Random(5)
    index = WhooshIndex(tmp_path / "ix", tmp_path / "jieba")
    generation, _ = index.create_generation(segmenter.snapshot)
    index.switch(generation)
    _write(index, generation, [_doc(i, rng) | {"solution": rng.choice(WORDS)} for i in range(600)])
    _write(index, generation, [_doc(i, rng) for i in range(600, 650)], deletions=(4, 9, 610))
    yield index
    index.close()


def _packed_files(index: WhooshIndex) -> set[str]:
    return {p.name for p in index.directory(index.current_generation()).iterdir() if ".packed." in p.name}


def test_every_segment_is_packed_with_exactly_whooshs_postings(index):
    directory = index.directory(index.current_generation())
    with index.open().searcher() as s:
        leaves = s.leaf_searchers()
        assert len(leaves) == 2
        for leaf, _ in leaves:
            reader = leaf.reader()
            fields = packed.load(directory, reader.segment().segment_id())
            assert fields is not None and set(fields) == set(TEXT_FIELDS)
            for field in TEXT_FIELDS:
                lexicon = [t.decode() if isinstance(t, bytes) else t for t in reader.lexicon(field)]
                assert len(fields[field].rows) == len(lexicon)
                assert lexicon or field == "solution"      # the second commit's documents have no solution
                for term in lexicon + ["absent"]:
                    ids, tfs = fields[field].postings(term)
                    want_ids, want_tfs = term_postings(reader, field, term)
                    assert ids.tolist() == want_ids.tolist() and tfs.tolist() == want_tfs.tolist()
                    assert fields[field].doc_frequency(term) == reader.doc_frequency(field, term)


def test_each_documents_lengths_and_entity_id_are_packed_and_searches_read_no_stored_fields(index, monkeypatch):
    directory = index.directory(index.current_generation())
    with index.open().searcher() as s:
        for leaf, _ in s.leaf_searchers():
            reader = leaf.reader()
            fields = packed.load(directory, reader.segment().segment_id())
            n = reader.doc_count_all()                     # deleted documents included, as Whoosh numbers them
            assert fields.entity_ids.tolist() == [int(reader.stored_fields(d)["entity_id"]) for d in range(n)]
            for field in TEXT_FIELDS:
                assert fields[field].lengths.tolist() == [reader.doc_field_length(d, field, 0) or 0 for d in range(n)]
    expected = {q: [(h.entity_id, round(h.score, 6)) for h in index.similar_to(q, k=10)]
                for q in (("w3", "w0", "w41"), ("w59", "w58"))}
    assert all(expected.values())
    from whoosh.reading import SegmentReader

    def no_reads(*_a, **_k):
        raise AssertionError("a stored-fields read on the search path")

    monkeypatch.setattr(SegmentReader, "stored_fields", no_reads)
    monkeypatch.setattr(SegmentReader, "doc_field_length", no_reads)
    fresh = WhooshIndex(index.root, directory.parent / "jieba")      # its own caches: nothing read yet
    assert {q: [(h.entity_id, round(h.score, 6)) for h in fresh.similar_to(list(q), k=10)] for q in expected} == expected
    fresh.close()


def test_a_segment_packed_before_documents_were_gets_them_at_the_writers_start(index):
    directory = index.directory(index.current_generation())
    for name in [p.name for p in directory.iterdir() if any(part in p.name for part in (
            ".packed.entity", ".lengths.", ".packed.documents"))]:          # as an older writer left them
        (directory / name).unlink()
    integrity.record(directory)
    segment_id = next(directory.glob("*.packed.json")).name.split(".packed.")[0]
    assert packed.load(directory, segment_id).entity_ids is None
    assert packed.write_missing(index.open(), directory) == 2
    integrity.record(directory)                   # as the writer does after packing at its start
    assert integrity.verify(directory) is None    # nothing rewritten: the generation is not "damaged"
    loaded = packed.load(directory, segment_id)
    assert loaded.entity_ids is not None and all(loaded[f].lengths is not None for f in TEXT_FIELDS)
    assert packed.write_missing(index.open(), directory) == 0


@pytest.mark.parametrize("terms", [["w0"], ["w1", "w30", "w59"], ["w0", "w2", "w44", "absent"]])
def test_scores_with_packed_postings_equal_whooshs_own_search(index, terms):
    directory = index.directory(index.current_generation())
    boosts = {"title": 1.0, "body": 0.6}
    weighted = [(f, t, b) for t in terms for f, b in boosts.items()]
    with index.open().searcher(weighting=BM25F()) as s:
        leaves = segments(s, boosts, SegmentCache(), "g", lambda seg: packed.load(directory, seg))
        assert all(leaf.packed is not None for leaf in leaves)
        ours = dict(top(bm25f(s, leaves, weighted), 100_000, allowed(s, leaves, {})))
        theirs = {r.docnum: r.score for r in s.search(Or([Term(f, t, boost=b) for f, t, b in weighted]), limit=None)}
    assert set(ours) == set(theirs) and theirs
    for doc, score in theirs.items():
        assert ours[doc] == pytest.approx(score, rel=1e-6)


def test_similar_and_full_text_search_are_unchanged_without_the_packed_files(index, tmp_path):
    queries = [["w3", "w0", "w41"], ["w59", "w58"], ["w1", "w2", "w3", "w4", "w5"]]
    with_packed = [[(h.entity_id, round(h.score, 6)) for h in index.similar_to(q, k=10)] for q in queries]
    searched = [index.search_tokens(q, limit=15) for q in queries]
    assert index._local.state.leaves and all(leaf.packed for leaf in index._local.state.leaves)
    plain = WhooshIndex(index.root, tmp_path / "jieba")
    for name in _packed_files(index):
        (index.directory(index.current_generation()) / name).unlink()
    without = [[(h.entity_id, round(h.score, 6)) for h in plain.similar_to(q, k=10)] for q in queries]
    assert not any(leaf.packed for leaf in plain._local.state.leaves)
    assert with_packed == without and all(with_packed)
    assert [plain.search_tokens(q, limit=15) for q in queries] == searched
    plain.close()


def test_a_commit_packs_only_its_new_segment_and_a_merge_takes_the_old_ones_away(index):
    generation = index.current_generation()
    directory = index.directory(generation)
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if ".packed." in p.name}
    _write(index, generation, [_doc(i, random.Random(i)) for i in range(650, 660)])
    after = {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if ".packed." in p.name}
    assert {n: t for n, t in after.items() if n in before} == before          # old segments not rewritten
    new_manifests = [n for n in after if n not in before and n.endswith(".packed.json")]
    assert len(new_manifests) == 1
    ix = index.open()
    ix.optimize()                                   # one segment: the others' files go with them
    packed.write_missing(ix, directory)
    with ix.searcher() as s:
        (only,) = [leaf.reader().segment().segment_id() for leaf, _ in s.leaf_searchers()]
    manifests = sorted(n for n in _packed_files(index) if n.endswith(".packed.json"))
    assert manifests == [f"{only}.packed.json"]
    assert all(n.startswith(only) for n in _packed_files(index))


def test_a_damaged_packed_file_is_found_by_the_checksums_and_searches_fall_back(index, tmp_path):
    directory = index.directory(index.current_generation())
    expected = [(h.entity_id, round(h.score, 6)) for h in index.similar_to(["w3", "w0"], k=10)]
    victim = next(p for p in directory.iterdir() if p.name.endswith(".packed.title.ids.npy")
                  and p.stat().st_size > 1000)
    victim.write_bytes(victim.read_bytes()[:200])
    assert "packed" in (integrity.verify(directory) or "")
    segment_id = victim.name.split(".packed.")[0]
    assert packed.load(directory, segment_id) is None
    fresh = WhooshIndex(index.root, tmp_path / "jieba")          # reads Whoosh's postings for that segment
    assert [(h.entity_id, round(h.score, 6)) for h in fresh.similar_to(["w3", "w0"], k=10)] == expected
    assert [leaf.packed is None for leaf in fresh._local.state.leaves].count(True) == 1
    fresh.close()


def test_a_segment_packed_after_a_searcher_first_looked_is_used_next_time():
    cache = SegmentCache()
    assert cache.packed(("g", "s"), lambda: None) is None
    fields = {"title": object()}
    assert cache.packed(("g", "s"), lambda: fields) is fields
    assert cache.packed(("g", "s"), lambda: None) is fields        # kept once found


def test_a_commit_is_published_only_with_every_segment_packed_merges_too(tmp_path, monkeypatch):
    """Searchers open a commit as soon as its table of contents is written. Packed after that, a
    new segment — a merge's result above all — was read through Whoosh by every searcher that
    opened the commit before the writer packed it (most searches during a large import)."""
    from whoosh import index as whoosh_index
    from whoosh.index import TOC

    from indexer.merge_policy import merge_tiers
    from indexer.schema import make_schema

    directory = tmp_path / "g"
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), make_schema())
    published: list[tuple[int, list[str]]] = []
    write_toc = TOC.write

    def checked_write(toc, storage, indexname):
        unpacked = [s.segment_id() for s in toc.segments
                    if s.doc_count_all() and not (directory / f"{s.segment_id()}.packed.json").exists()]
        published.append((len(toc.segments), unpacked))
        return write_toc(toc, storage, indexname)

    monkeypatch.setattr(TOC, "write", checked_write)
    n = 0
    for _ in range(20):                        # 20 commits of 50: tiers fill and are merged
        w = ix.writer()
        for _ in range(50):
            w.add_document(doc_id=f"case:{n}", kind="case", entity_id=n, type="咨询", title=f"发票 w{n % 13}",
                           body=f"开票 金额 w{n % 7}")
            n += 1
        assert packed.commit_packed(w, directory, mergetype=merge_tiers) >= 1
    assert len(published) == 20 and all(not unpacked for _, unpacked in published), published
    counts = [count for count, _ in published]
    assert max(counts) >= 4 and any(b < a for a, b in zip(counts, counts[1:])), counts     # tiers were merged
    with ix.searcher() as s:
        assert s.doc_count() == 1000
        for leaf, _ in s.leaf_searchers():
            fields = packed.load(directory, leaf.reader().segment().segment_id())
            assert fields is not None and fields["title"].doc_frequency("发票") == leaf.reader().doc_frequency("title", "发票")
