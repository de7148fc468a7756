"""A serving worker freezes what it loaded, and thaws and collects after a model or dictionary swap."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest

from api import heap


@pytest.fixture
def enabled(monkeypatch):
    monkeypatch.setattr(heap, "_enabled", True)
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other = self


def test_settle_freezes_the_heap_and_a_thaw_collects_what_died_since(enabled):
    cycle = Node()
    alive = weakref.ref(cycle)
    assert heap.settle() is not None
    assert gc.get_freeze_count() > 0
    del cycle
    gc.collect()
    assert alive() is not None            # frozen: the collector does not look at it
    heap.settle(thaw=True)
    assert alive() is None


def test_settle_does_nothing_outside_a_serving_worker():
    before = gc.get_freeze_count()
    assert heap.settle() is None
    assert gc.get_freeze_count() == before


def test_the_refresher_settles_only_after_a_swap(api_model, enabled, caplog):
    refresher = api_model.client.app.state.refresher
    with caplog.at_level(logging.INFO, logger="zhiku.heap"):
        refresher.tick()
        assert not [r for r in caplog.records if r.name == "zhiku.heap"]
        created = api_model.post("/api/v1/dictionary", role="knowledge_manager",
                                 json={"kind": "typo", "term": "登彔", "canonical": "登录"})
        assert created.status_code == 201
        refresher.tick()
    settled = [r for r in caplog.records if r.name == "zhiku.heap"]
    assert len(settled) == 1 and settled[0].frozen_objects > 0
