"""The node's precomputed vectors: equal to embedding on the spot, used only for a case as it is
now (its update stamp), written incrementally, and picked up by readers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from classifier import dataset
from classifier.semantic import fingerprint, fit_semantic
from classifier.vector_store import VectorStore, read_build, stamp, write_build
from tests.classifier.unseen import UNSEEN
from tests.conftest import DATA_DIR

TEXTS = [e.text for e in dataset.from_demo(DATA_DIR / "demo" / "cases.jsonl")]


@pytest.fixture(scope="module")
def model(segmenter):
    return fit_semantic(TEXTS, segmenter)


def corpus(n: int) -> dict[int, str]:
    """Case id → text: ids with gaps, as a real table has."""
    return {10 + 3 * i: t for i, (t, _, _) in enumerate(UNSEEN[:n])}


def test_stamps_are_the_same_instant_whatever_the_time_zone_form():
    at = datetime(2026, 12, 6, 4, 0, 0, 123456, tzinfo=UTC)
    assert stamp(at) == stamp(at.replace(tzinfo=None)) == stamp(at.astimezone(UTC).astimezone())
    assert stamp(at + timedelta(microseconds=1)) == stamp(at) + 1


def test_a_build_gives_the_vectors_and_fingerprints_of_embedding_on_the_spot(tmp_path, model, segmenter):
    texts = corpus(12)
    ids = np.array(sorted(texts), dtype=np.int64)
    stamps = np.arange(len(ids), dtype=np.int64) + 1_000
    build = write_build(tmp_path, model, ids, stamps, lambda chunk: [texts[i] for i in chunk], segmenter, chunk=5)
    store = VectorStore(tmp_path)
    asked = [int(ids[7]), int(ids[0]), 999, int(ids[3])]
    vectors, prints, literal, found = store.lookup(model.version, asked,
                                                   [int(stamps[7]), int(stamps[0]), 5, int(stamps[3])])
    assert found.tolist() == [True, True, False, True]
    expected = model.embed([texts[asked[0]], texts[asked[1]], texts[asked[3]]], segmenter)
    np.testing.assert_allclose(vectors[[0, 1, 3]], expected, atol=2e-3)            # stored as float16
    assert not vectors[2].any() and len(literal) == 3          # literal vectors of the found rows only
    assert prints[0] == fingerprint(texts[asked[0]], segmenter)
    assert build.vectors.shape == (12, model.projection.shape[1])
    # the literal vectors are the ones computed on the spot: same columns, same weights
    for row, i in enumerate((0, 1, 3)):
        fresh = model.literal([texts[asked[i]]], segmenter)[0]
        assert len(fresh.columns) > 3
        assert literal.row(row).columns.tolist() == fresh.columns.tolist()
        np.testing.assert_array_equal(literal.row(row).weights, fresh.weights)


def test_a_case_changed_since_the_build_misses(tmp_path, model, segmenter):
    texts = corpus(4)
    ids = np.array(sorted(texts), dtype=np.int64)
    write_build(tmp_path, model, ids, np.full(4, 7, dtype=np.int64), lambda chunk: [texts[i] for i in chunk], segmenter)
    _, _, _, found = VectorStore(tmp_path).lookup(model.version, ids.tolist(), [7, 8, 7, 7])
    assert found.tolist() == [True, False, True, True]
    # another representation has no build: everything misses
    _, _, _, found = VectorStore(tmp_path).lookup("another", ids.tolist(), [7, 7, 7, 7])
    assert not found.any()


def test_a_new_build_embeds_only_new_and_changed_cases_and_readers_switch_to_it(tmp_path, model, segmenter):
    texts = corpus(10)
    ids = np.array(sorted(texts), dtype=np.int64)
    stamps = np.full(len(ids), 1, dtype=np.int64)
    first = write_build(tmp_path, model, ids, stamps, lambda chunk: [texts[i] for i in chunk], segmenter)
    store = VectorStore(tmp_path, recheck_seconds=0)
    assert store.build(model.version).name == first.name
    # case ids[2] edited (new text, new stamp), ids[5] reopened (gone), one new case resolved
    texts[int(ids[2])] = "会员积分昨天消费后一直没有到账，查询明细也看不到"
    new_id = int(ids[-1]) + 5
    texts[new_id] = "电子发票开具失败，提示税控盘未连接"
    ids2 = np.array(sorted([i for i in texts if i != ids[5]]), dtype=np.int64)
    stamps2 = np.array([2 if i == ids[2] else 1 for i in ids2], dtype=np.int64)
    embedded: list[int] = []

    def texts_of(chunk):
        embedded.extend(chunk)
        return [texts[i] for i in chunk]

    second = write_build(tmp_path, model, ids2, stamps2, texts_of, segmenter, previous=first)
    assert sorted(embedded) == sorted([int(ids[2]), new_id])
    assert store.build(model.version).name == second.name
    vectors, _, literal, found = store.lookup(model.version, ids2.tolist(), stamps2.tolist())
    assert found.all()
    np.testing.assert_allclose(vectors, model.embed([texts[i] for i in ids2.tolist()], segmenter), atol=2e-3)
    # copied rows keep their own literal vectors next to the re-embedded ones
    assert len(literal) == len(ids2)
    for row, i in enumerate(ids2.tolist()):
        fresh = model.literal([texts[i]], segmenter)[0]
        assert literal.row(row).columns.tolist() == fresh.columns.tolist(), i
        np.testing.assert_array_equal(literal.row(row).weights, fresh.weights)
    # a third build removes the first (a reader may still map the second)
    third = write_build(tmp_path, model, ids2, stamps2 + 1, texts_of, segmenter, previous=second)
    kept = sorted(p.name for p in (tmp_path / model.version).iterdir() if p.is_dir())
    assert kept == sorted([second.name, third.name])
    assert read_build(tmp_path, model.version).name == third.name


def test_a_build_written_before_the_literal_vectors_is_not_opened(tmp_path, model, segmenter):
    """Such a build would give suggestions no literal cosine: it must read as absent, so
    suggestions compute what they need and the keeper writes a new one."""
    texts = corpus(4)
    ids = np.array(sorted(texts), dtype=np.int64)
    build = write_build(tmp_path, model, ids, np.full(4, 7, dtype=np.int64), lambda chunk: [texts[i] for i in chunk],
                        segmenter)
    assert read_build(tmp_path, model.version) is not None
    (tmp_path / model.version / build.name / "grams.npy").unlink()
    assert read_build(tmp_path, model.version) is None
    _, _, _, found = VectorStore(tmp_path).lookup(model.version, ids.tolist(), [7, 7, 7, 7])
    assert not found.any()
