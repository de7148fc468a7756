"""The index writer's merge policy keeps few segments however the documents arrive."""

from __future__ import annotations

from collections import Counter

from whoosh import index as whoosh_index

from indexer.merge_policy import PER_TIER, merge_tiers, tier
from indexer.schema import make_schema


def _commit_batches(ix, batches: int, size: int, mergetype) -> int:
    """Commit ``batches`` batches of ``size`` documents; returns the most segments seen after a commit."""
    n, most = 0, 0
    for _ in range(batches):
        with ix.writer() as w:
            w.mergetype = mergetype
            for _ in range(size):
                w.add_document(doc_id=f"case:{n}", kind="case", entity_id=n, type="咨询", title=f"发票 w{n % 13}",
                               body=f"开票 金额 w{n % 7}")
                n += 1
        most = max(most, len(ix._segments()))
    return most


def test_an_import_applied_in_batches_of_a_hundred_keeps_few_segments_and_every_document(tmp_path):
    from whoosh.writing import MERGE_SMALL

    (tmp_path / "ours").mkdir()
    (tmp_path / "whoosh").mkdir()
    ours = whoosh_index.create_in(str(tmp_path / "ours"), make_schema())
    most = _commit_batches(ours, batches=40, size=100, mergetype=merge_tiers)        # 4,000 documents
    whooshs = whoosh_index.create_in(str(tmp_path / "whoosh"), make_schema())
    assert _commit_batches(whooshs, batches=40, size=100, mergetype=MERGE_SMALL) >= 12    # what it replaces

    sizes = [s.doc_count_all() for s in ours._segments()]
    assert sum(sizes) == 4000 and most <= 8, (most, sizes)
    assert max(Counter(tier(n) for n in sizes).values()) <= PER_TIER
    with ours.searcher() as s:
        assert s.doc_count() == 4000
        assert all(s.document_number(doc_id=f"case:{i}") is not None for i in range(0, 4000, 37))


def test_a_full_tier_is_merged_by_the_next_commit_without_the_deleted_documents(tmp_path):
    ix = whoosh_index.create_in(str(tmp_path), make_schema())
    _commit_batches(ix, batches=PER_TIER, size=40, mergetype=merge_tiers)
    assert len(ix._segments()) == PER_TIER          # a commit merges what was there before it
    with ix.writer() as w:
        w.mergetype = merge_tiers
        w.delete_by_term("doc_id", "case:5")
        w.delete_by_term("doc_id", "case:45")
    assert [s.doc_count_all() for s in ix._segments()] == [40 * PER_TIER - 2]
    with ix.searcher() as s:
        assert s.document_number(doc_id="case:5") is None and s.document_number(doc_id="case:6") is not None


def test_segments_above_the_size_cap_are_left_alone(tmp_path, monkeypatch):
    from indexer import merge_policy

    monkeypatch.setattr(merge_policy, "MAX_MERGE_DOCS", 40)
    ix = whoosh_index.create_in(str(tmp_path), make_schema())
    _commit_batches(ix, batches=PER_TIER + 2, size=40, mergetype=merge_tiers)
    assert [s.doc_count_all() for s in ix._segments()] == [40] * (PER_TIER + 2)
