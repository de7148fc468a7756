"""A damaged generation is found (on open, on read, and by checksum when the writer starts),
marked for every process, reported instead of raised, and replaced by a rebuild from the
database — in the library, through the CLI, and while the service is serving or restarting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer import IndexUnavailable, WhooshIndex
from indexer.rebuild import rebuild, reconcile
from indexer.sync import IndexWorker, drain_all
from indexer.whoosh_index import IndexCorrupt
from kb.cases.service import rules_from_settings
from kb.demo import load_demo
from kb.models import Role
from kb.settings import PROJECT_ROOT, Settings
from kb.setup import prepare_database
from tests.conftest import DATA_DIR, add_user, case_payload, wait_for
from tests.factories import make_resolved

QUERY = "员工打卡提示不在考勤范围内 E1024"


def truncate(directory: Path, pattern: str, keep: float) -> None:
    for path in directory.glob(pattern):
        with open(path, "r+b") as f:
            f.truncate(int(path.stat().st_size * keep))


def flip(directory: Path, pattern: str, at: float = 0.5, length: int = 64) -> None:
    for path in directory.glob(pattern):
        data = bytearray(path.read_bytes())
        start = int(len(data) * at)
        for i in range(start, min(len(data), start + length)):
            data[i] ^= 0x5A
        path.write_bytes(bytes(data))


DAMAGE = {
    "segment truncated": lambda d: truncate(d, "*.seg", 0.5),
    "segment emptied": lambda d: truncate(d, "*.seg", 0),
    "segment deleted": lambda d: [p.unlink() for p in d.glob("*.seg")],
    "table of contents garbled": lambda d: flip(d, "*.toc", 0.3),
    "table of contents truncated": lambda d: truncate(d, "*.toc", 0.5),
    "meta.json garbled": lambda d: (d / "meta.json").write_text("{nope", encoding="utf-8"),
}


@pytest.fixture
def index(tmp_path, engine, segmenter, session, rules) -> WhooshIndex:
    make_resolved(session, rules)
    ix = WhooshIndex(tmp_path / "index", tmp_path / "jieba")
    rebuild(engine, ix, segmenter.snapshot)
    assert len(ix.similar(QUERY)) == 1
    ix.close()
    return ix


def live(ix: WhooshIndex) -> Path:
    return ix.directory(ix.current_generation())


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_detected_on_read_marked_for_others_and_rebuilt(damage, index, engine, tmp_path, segmenter):
    damaged = index.current_generation()
    DAMAGE[damage](live(index))
    with pytest.raises(IndexCorrupt):
        WhooshIndex(index.root, tmp_path / "jieba").similar(QUERY)     # a process opening it now
    other_process = WhooshIndex(index.root, tmp_path / "jieba")     # sees the mark, not the exception
    assert other_process.problem().startswith(f"corrupt generation {damaged}")
    assert other_process.stats()["problem"] and other_process.stats()["documents"] is None
    with pytest.raises(IndexUnavailable):
        other_process.search("打卡")

    worker = IndexWorker(engine, WhooshIndex(index.root, tmp_path / "jieba"), tmp_path / "indexer.lock")
    worker.step()
    assert index.current_generation() != damaged and index.problem() is None
    assert len(index.similar(QUERY)) == 1


def test_silent_damage_is_found_by_checksum_when_the_writer_starts(index, engine, tmp_path):
    damaged = index.current_generation()
    flip(live(index), "*.seg", at=0.4)       # Whoosh would read this without complaint
    worker = IndexWorker(engine, WhooshIndex(index.root, tmp_path / "jieba"), tmp_path / "indexer.lock")
    assert "checksum" in worker.verify()
    assert index.problem().startswith(f"corrupt generation {damaged}")
    worker.step()
    assert index.current_generation() != damaged and len(index.similar(QUERY)) == 1


def test_checksums_follow_incremental_commits(index, engine, session, rules, tmp_path):
    make_resolved(session, rules, subject="发票开具失败", description="开票提示税控盘未连接")
    assert drain_all(engine, index) >= 1
    worker = IndexWorker(engine, WhooshIndex(index.root, tmp_path / "jieba"), tmp_path / "indexer.lock")
    assert worker.verify() is None and index.problem() is None      # a commit is not damage


def test_reconcile_and_stats_report_instead_of_crashing(index, engine):
    DAMAGE["segment truncated"](live(index))
    with pytest.raises(IndexCorrupt):
        reconcile(engine, index, now=None)
    assert index.stats()["problem"].startswith("corrupt generation")


def demo_desk(var: Path, db_url: str):
    """A var dir whose SQLite database holds the demo cases (the CLI reads its settings from
    the environment, so these tests run on the embedded default only), and a way to run
    ``python -m indexer`` against it. Returns (engine, run)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI reads its settings from the environment; one database kind is enough")
    demo = Settings(data_dir=DATA_DIR, var_dir=var)
    engine = prepare_database(demo)
    assert load_demo(engine, DATA_DIR / "demo", rules_from_settings(demo))
    env = {**os.environ, "ZHIKU_VAR_DIR": str(var), "ZHIKU_DATA_DIR": str(DATA_DIR), "ZHIKU_LOG_JSON": "false"}
    env.pop("ZHIKU_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "indexer", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    return engine, run


def test_the_cli_reports_a_damaged_index_with_exit_code_1(tmp_path, db_url):
    var = tmp_path / "var"
    engine, run = demo_desk(var, db_url)
    engine.dispose()
    assert run("rebuild").returncode == 0
    assert json.loads(run("verify").stdout)["problem"] is None
    ix = WhooshIndex(var / "index")
    truncate(live(ix), "*.seg", 0.5)
    for command in ("reconcile", "stats"):
        out = run(command)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert "corrupt generation" in json.loads(out.stdout)["problem"]
    out = run("verify")
    assert out.returncode == 1 and json.loads(out.stdout)["problem"]


# ---------------------------------------------------------------- while serving



def serving(settings: Settings):
    app = create_app(settings)
    return TestClient(app)


def resolve_one(client, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    number = client.post("/api/v1/cases", json=case_payload(), headers=headers).json()["number"]
    assert client.post(f"/api/v1/cases/{number}/resolve", headers=headers, json={
        "analysis": "坐标未转换", "root_cause": "产品设计缺陷", "solution_temp": "开启高精度定位并补卡",
        "result": "补卡完成"}).status_code == 200
    return number


def similar_numbers(client, key: str) -> tuple[list[str], list[str]]:
    body = client.post("/api/v1/suggestions", headers={"Authorization": f"Bearer {key}"},
                       json={"description": QUERY}).json()
    return [c["number"] for c in body["similar_cases"]], body["missing"]


def test_serving_says_index_unavailable_then_the_writer_rebuilds_on_its_own(tmp_path, db_url):
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url)
    with serving(settings) as client:
        app = client.app
        key = add_user(app.state.engine, "boss", Role.admin)
        number = resolve_one(client, key)
        assert wait_for(lambda: number in similar_numbers(client, key)[0])
        index: WhooshIndex = app.state.index
        damaged = index.current_generation()

        app.state.index_worker.stop()           # the writer is elsewhere and down: damage stays visible
        DAMAGE["segment truncated"](live(index))
        # each request thread notices the changed file within its recheck interval (0.2 s)
        assert wait_for(lambda: "index_unavailable" in similar_numbers(client, key)[1], timeout=10)
        shown, missing = similar_numbers(client, key)
        assert shown == [] and "index_unavailable" in missing
        search = client.get("/api/v1/search", params={"q": "打卡"}, headers={"Authorization": f"Bearer {key}"})
        assert search.status_code == 200 and search.json()["missing"] == ["index_unavailable"]
        health = client.get("/health", headers={"Authorization": f"Bearer {key}"}).json()
        assert health["status"] == "degraded" and health["index"]["problem"].startswith("corrupt generation")

        app.state.index_worker = worker = IndexWorker(app.state.engine, index, settings.var_dir / "indexer.lock",
                                                      interval=0.2)
        worker.start()                          # a writer again: it rebuilds without being asked
        try:
            assert wait_for(lambda: number in similar_numbers(client, key)[0]), "never rebuilt"
            assert index.current_generation() != damaged
            health = client.get("/health", headers={"Authorization": f"Bearer {key}"}).json()
            assert health["index"]["problem"] is None and health["index"]["documents"] == 1
        finally:
            worker.stop()


def test_damage_done_while_stopped_is_repaired_at_the_next_start(tmp_path, db_url):
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url)
    with serving(settings) as client:
        key = add_user(client.app.state.engine, "boss", Role.admin)
        number = resolve_one(client, key)
        assert wait_for(lambda: number in similar_numbers(client, key)[0])
        index: WhooshIndex = client.app.state.index
        damaged = index.current_generation()
        directory = live(index)
    flip(directory, "*.seg", at=0.4)            # silent: only the checksums can tell
    with serving(settings) as client:
        index = client.app.state.index
        assert wait_for(lambda: index.current_generation() not in (None, damaged)), "damage not found at start"
        assert wait_for(lambda: number in similar_numbers(client, key)[0])


def test_the_rebuild_command_asks_a_running_writer_instead_of_racing_it(tmp_path, db_url, segmenter):
    # ``segmenter`` installs the default text pipeline the in-process writer uses
    var = tmp_path / "var"
    engine, run = demo_desk(var, db_url)
    index = WhooshIndex(var / "index", tmp_path / "jieba")
    writer = IndexWorker(engine, index, var / "indexer.lock", interval=0.2)
    writer.start()                                   # the service's writer holds the lock
    try:
        assert wait_for(lambda: writer.holds_lock and index.current_generation())
        first = index.current_generation()
        out = run("rebuild")
        assert out.returncode == 0, out.stderr
        assert "rebuilt by writer" in out.stdout and index.current_generation() != first
        assert writer.last_error is None and index.problem() is None
    finally:
        writer.stop()
        engine.dispose()


def test_a_replica_whose_cursor_is_ahead_of_the_database_rebuilds(index, tmp_path, db_url):
    """An index that followed another database (the service restored from an older backup)
    would skip every change until the restored database caught up with its cursor."""
    if not db_url.startswith("sqlite"):
        pytest.skip("a second fresh database is simplest on SQLite")
    followed = index.current_generation()
    restored = prepare_database(Settings(data_dir=DATA_DIR, var_dir=tmp_path / "restored"))   # empty: cursor ahead
    worker = IndexWorker(restored, WhooshIndex(index.root, tmp_path / "jieba"), tmp_path / "indexer.lock")
    worker.step()
    assert index.current_generation() != followed and index.problem() is None
    restored.dispose()
