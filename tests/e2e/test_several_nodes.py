"""Several app nodes on one PostgreSQL database, each with its own index replica: a change
made through one node is found through every node; the feed is read in commit-safe order
(a row with a lower id that commits later is not skipped); retention keeps what a replica
has not read, and a replica dropped by retention rebuilds."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text
from sqlmodel import select

from api.app import create_app
from indexer import feed
from kb.db import make_session
from kb.models import IndexReplica, Role, SearchOutbox
from kb.settings import Settings
from tests.conftest import DATA_DIR, add_user, case_payload, fresh_postgres_database, wait_for
from tests.e2e.test_log_and_suggest import RESOLUTION

pytestmark = pytest.mark.slow



def test_a_change_through_one_node_is_found_through_every_node(tmp_path, db_url, trained_bundle):
    if not db_url.startswith("postgresql"):
        pytest.skip("several nodes share a PostgreSQL database")
    nodes = [TestClient(create_app(Settings(data_dir=DATA_DIR, var_dir=tmp_path / name, database_url=db_url,
                                            index_poll_seconds=0.2, model_poll_seconds=0.5)))
             for name in ("node-a", "node-b")]
    for node in nodes:
        node.__enter__()
    try:
        key = add_user(nodes[0].app.state.engine, "lead", Role.admin)
        headers = {"Authorization": f"Bearer {key}"}
        number = nodes[0].post("/api/v1/cases", headers=headers, json=case_payload(
            subject="门禁闸机刷卡无反应", description="闸机刷卡一直红灯，错误码 G4410")).json()["number"]
        assert nodes[0].post(f"/api/v1/cases/{number}/resolve", headers=headers, json=RESOLUTION).status_code == 200

        def found_on(node):
            body = node.get("/api/v1/search", headers=headers, params={"q": "闸机 G4410"}).json()
            return [i["number"] for i in body["items"]] == [number]

        assert wait_for(lambda: all(found_on(n) for n in nodes)), "not found through every node"
        with make_session(nodes[0].app.state.engine) as s:
            replicas = list(s.exec(select(IndexReplica)))
        assert len(replicas) == 2 and len({r.name for r in replicas}) == 2
        for node in nodes:
            assert node.get("/health", headers=headers).json()["database"]["outbox_pending"] == 0

        # a model trained and promoted on node A is in use on node B (its bytes come from the database)
        with make_session(nodes[0].app.state.engine, write=True) as s:
            version = nodes[0].app.state.registry.save(s, trained_bundle).version
        assert not (nodes[1].app.state.registry.root / version).exists()
        promoted = nodes[0].post(f"/api/v1/models/{version}/promote", headers=headers, json={"note": "两节点"})
        assert promoted.status_code == 200, promoted.text
        assert wait_for(lambda: nodes[1].app.state.predictor.version == version, timeout=10), \
            nodes[1].app.state.predictor.last_error
        body = nodes[1].post("/api/v1/suggestions", headers=headers, json={"description": "闸机刷卡红灯"}).json()
        assert body["model_version"] == version
    finally:
        for node in nodes:
            node.__exit__(None, None, None)


def test_a_row_committing_late_with_a_lower_id_is_not_skipped(engine, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: ids are commit order")
    now = datetime.now(UTC)
    with make_session(engine) as s:
        cursor = feed.snapshot_cursor(s)
    slow = engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(SearchOutbox).values(entity="case", entity_id=1, op="upsert", created_at=now))  # lower id
    with engine.begin() as fast:
        fast.execute(insert(SearchOutbox).values(entity="case", entity_id=2, op="upsert", created_at=now))
    seen = []
    with make_session(engine) as s:
        rows, cursor = feed.read(s, cursor, limit=100)     # the slow transaction is still running
        seen += [r.entity_id for r in rows]
    slow_tx.commit()
    slow.close()
    with make_session(engine) as s:
        rows, cursor = feed.read(s, cursor, limit=100)
        seen += [r.entity_id for r in rows]
        assert feed.pending(s, cursor) == 0
    assert sorted(seen) == [1, 2]


def test_only_this_databases_transactions_hold_the_feed_back(engine, db_url, worker_id):
    """The oldest running transaction of the whole server is no horizon: a long write in another
    database of the same cluster (a staging copy, another application) held every node's index
    back until it ended. A transaction of this database holds it back even when it took its id
    writing another table and writes the feed only later."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: ids are commit order")
    now = datetime.now(UTC)
    other = create_engine(fresh_postgres_database(f"zhiku_other_{worker_id}"))
    elsewhere = other.connect()
    elsewhere_tx = elsewhere.begin()
    elsewhere.execute(text("SELECT pg_current_xact_id()"))          # a write transaction there, left open
    try:
        with make_session(engine) as s:
            cursor = feed.snapshot_cursor(s)
        with engine.begin() as conn:
            conn.execute(insert(SearchOutbox).values(entity="case", entity_id=1, op="upsert", created_at=now))
        with make_session(engine) as s:
            rows, cursor = feed.read(s, cursor, limit=100)
        assert [r.entity_id for r in rows] == [1]

        slow = engine.connect()                     # here: an id taken by another table's write
        slow_tx = slow.begin()
        slow.execute(insert(IndexReplica).values(name="slow", generation="g", cursor_txid=0, cursor_id=0,
                                                 updated_at=now))
        with engine.begin() as conn:
            conn.execute(insert(SearchOutbox).values(entity="case", entity_id=2, op="upsert", created_at=now))
        with make_session(engine) as s:
            rows, cursor = feed.read(s, cursor, limit=100)
        assert rows == []                           # 2 is newer than the running transaction
        slow.execute(insert(SearchOutbox).values(entity="case", entity_id=3, op="upsert", created_at=now))
        slow_tx.commit()
        slow.close()
        with make_session(engine) as s:
            rows, cursor = feed.read(s, cursor, limit=100)
            assert sorted(r.entity_id for r in rows) == [2, 3] and feed.pending(s, cursor) == 0
    finally:
        elsewhere_tx.rollback()
        elsewhere.close()
        other.dispose()


def test_retention_keeps_unread_rows_and_a_dropped_replica_rebuilds(engine, tmp_path):
    now = datetime.now(UTC)
    with make_session(engine, write=True) as s:
        s.add(SearchOutbox(entity="case", entity_id=1, op="upsert", created_at=now - timedelta(days=30)))
        s.commit()
        start = feed.snapshot_cursor(s)
    with make_session(engine, write=True) as s:
        s.add(SearchOutbox(entity="case", entity_id=2, op="upsert", created_at=now - timedelta(days=30)))
        s.add(SearchOutbox(entity="case", entity_id=3, op="upsert", created_at=now))
        s.commit()
    feed.report(engine, "reader", "g1", start, register=True)     # has read only the first row
    assert feed.prune(engine, retention=timedelta(days=7)) == 1
    with make_session(engine) as s:
        assert [r.entity_id for r in s.exec(select(SearchOutbox).order_by(SearchOutbox.id))] == [2, 3]
        row = s.get(IndexReplica, "reader")
    with make_session(engine, write=True) as s:                    # silent for longer than the retention
        s.get(IndexReplica, "reader").updated_at = now - timedelta(days=8)
        s.commit()
    assert row is not None and feed.prune(engine, retention=timedelta(days=7)) == 1
    assert feed.report(engine, "reader", "g1", start) is False
    assert feed.rejoin(engine, "reader", "g1", start) is False    # row 2 is gone unread: it must rebuild
    with make_session(engine) as s:
        assert s.get(IndexReplica, "reader") is None


def _change(engine, entity_id: int, age: timedelta = timedelta(0)) -> None:
    with make_session(engine, write=True) as s:
        s.add(SearchOutbox(entity="case", entity_id=entity_id, op="upsert", created_at=datetime.now(UTC) - age))
        s.commit()


def _read_all(engine, cursor: feed.Cursor) -> tuple[list[int], feed.Cursor]:
    with make_session(engine) as s:
        rows, after = feed.read(s, cursor, limit=100)
    return [r.entity_id for r in rows], after


def test_a_feed_emptied_by_retention_never_hands_out_an_id_a_replica_has_passed(engine):
    """A quiet week: every row read and old, so retention may prune them all. On SQLite an
    emptied table gave its ids out again from 1, below the writer's cursor — every later
    change would have been skipped until the ids caught up."""
    _change(engine, 1, timedelta(days=30))
    _change(engine, 2, timedelta(days=30))
    seen, cursor = _read_all(engine, feed.Cursor())
    assert seen == [1, 2]
    feed.report(engine, "writer", "g1", cursor, register=True)
    assert feed.prune(engine, retention=timedelta(days=7)) >= 1
    _change(engine, 3)
    assert _read_all(engine, cursor)[0] == [3]


def test_an_unregistered_replica_keeps_its_index_when_nothing_past_its_cursor_was_pruned(engine):
    """A node back under a new host name (a container restarted) or from a moved directory is
    unregistered; it rejoins at its cursor unless rows it never read were pruned."""
    start = _read_all(engine, feed.Cursor())[1]
    _change(engine, 1, timedelta(days=30))
    _change(engine, 2, timedelta(days=30))
    _change(engine, 3)
    seen, end = _read_all(engine, start)
    assert seen == [1, 2, 3]
    feed.report(engine, "node-old-name", "g1", end, register=True)
    assert feed.prune(engine, retention=timedelta(days=7)) >= 1
    assert feed.report(engine, "node-new-name", "g1", end) is False          # not registered under this name
    assert feed.rejoin(engine, "node-new-name", "g1", end) is True
    assert feed.rejoin(engine, "node-behind", "g1", start) is False          # rows 1–2 were pruned unread
    with make_session(engine) as s:
        assert s.get(IndexReplica, "node-new-name").cursor_id == end.id
        assert s.get(IndexReplica, "node-behind") is None
    assert feed.report(engine, "node-new-name", "g1", end) is True
    # once registered, retention keeps what it has not read
    _change(engine, 4, timedelta(days=30))
    feed.prune(engine, retention=timedelta(days=7))
    assert _read_all(engine, end)[0] == [4]


def test_a_node_back_under_a_new_name_keeps_its_index(tmp_path, db_url):
    """The same var directory under another path — as a node whose container came back with a
    new host name — is a replica the registry does not know. It rejoins at its cursor: no
    rebuild, and the changes made meanwhile are applied."""
    def node(var: str) -> TestClient:
        return TestClient(create_app(Settings(data_dir=DATA_DIR, var_dir=tmp_path / var, database_url=db_url,
                                              index_poll_seconds=0.2)))

    def found(client, headers, words: str) -> bool:
        return client.get("/api/v1/search", headers=headers, params={"q": words}).json()["total"] > 0

    def resolve(client, headers, subject: str, description: str) -> None:
        number = client.post("/api/v1/cases", headers=headers, json=case_payload(
            subject=subject, description=description)).json()["number"]
        assert client.post(f"/api/v1/cases/{number}/resolve", headers=headers, json=RESOLUTION).status_code == 200

    with node("var-a") as a:
        engine = a.app.state.engine
        headers = {"Authorization": f"Bearer {add_user(engine, 'lead', Role.admin)}"}
        resolve(a, headers, "门禁闸机刷卡无反应", "闸机刷卡一直红灯，错误码 G4410")
        assert wait_for(lambda: found(a, headers, "闸机 G4410"))
        generation = a.app.state.index.current_generation()
        old_name = feed.replica_name(a.app.state.index.root)
    shutil.copytree(tmp_path / "var-a", tmp_path / "var-b")
    with node("var-b") as b:
        new_name = feed.replica_name(b.app.state.index.root)
        assert new_name != old_name
        resolve(b, headers, "电子发票开具失败", "提示税控盘未连接，错误码 T7788")

        def registered() -> bool:
            with make_session(engine) as s:
                return s.get(IndexReplica, new_name) is not None

        assert wait_for(registered), "the new name never registered"
        assert wait_for(lambda: found(b, headers, "税控盘 T7788"))
        assert b.app.state.index.current_generation() == generation      # kept, not rebuilt
        assert found(b, headers, "闸机 G4410")
