"""Backup and restore: SQLite's online backup (``python -m api backup``) and PostgreSQL's
pg_dump → pg_restore into a fresh database; after a rebuild of the index from the restored
database, search answers exactly as before."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, make_url, text

from indexer import WhooshIndex
from indexer.rebuild import rebuild
from kb.dictionary import install_segmenter_from_db
from kb.settings import PROJECT_ROOT, Settings
from kb.setup import prepare_database
from tests.conftest import DATA_DIR, POSTGRES_URL, case_payload
from tests.e2e.test_log_and_suggest import RESOLUTION

pytestmark = pytest.mark.slow
QUERIES = ["闸机 刷卡", "发票 红冲", "打卡 考勤"]


def arrange(api) -> dict[str, list[int]]:
    for subject, description in (("闸机刷卡无反应", "闸机刷卡一直红灯 G4410"), ("发票红冲失败", "红冲时提示税控盘错误"),
                                 ("考勤打卡定位失败", "员工打卡提示不在考勤范围")):
        number = api.post("/api/v1/cases", json=case_payload(subject=subject, description=description)).json()["number"]
        assert api.post(f"/api/v1/cases/{number}/resolve", json=RESOLUTION).status_code == 200
    deadline = time.monotonic() + 30
    while api.get("/api/v1/search", params={"q": "闸机"}).json()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    return {q: [i["number"] for i in api.get("/api/v1/search", params={"q": q}).json()["items"]] for q in QUERIES}


def restored_search(database_url: str, var) -> dict[str, list[int]]:
    from kb.cases.queries import get_many
    from kb.db import make_session

    settings = Settings(data_dir=DATA_DIR, var_dir=var, database_url=database_url)
    engine = prepare_database(settings)
    segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
    index = WhooshIndex(settings.index_dir, settings.jieba_cache_dir)
    rebuild(engine, index, segmenter.snapshot)
    out = {}
    with make_session(engine) as s:
        for q in QUERIES:
            hits, _ = index.search(q, limit=20)
            out[q] = [c.number for c in get_many(s, [h.entity_id for h in hits])]
    engine.dispose()
    return out


def test_sqlite_online_backup_restores_to_identical_search(api, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite backup command")
    before = arrange(api)
    assert all(before.values())
    copy = tmp_path / "backup.sqlite3"
    env = {**os.environ, "ZHIKU_DATABASE_URL": db_url, "ZHIKU_VAR_DIR": str(tmp_path / "var")}
    out = subprocess.run([sys.executable, "-m", "api", "backup", str(copy)], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert restored_search(f"sqlite:///{copy}", tmp_path / "restored") == before


def test_postgres_dump_and_restore_into_a_fresh_database(api, db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_dump / pg_restore")
    tools = [shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
             for name in ("pg_dump", "pg_restore")]
    if not all(tools):
        pytest.skip("pg_dump / pg_restore not installed")
    before = arrange(api)
    source = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "zhiku.dump"
    subprocess.run([tools[0], "-Fc", "-f", str(dump), source], check=True, timeout=300, capture_output=True)
    fresh_name = f"{make_url(db_url).database}_restored"
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{fresh_name}"'))
    try:
        target = make_url(db_url).set(drivername="postgresql", database=fresh_name)
        subprocess.run([tools[1], "--no-owner", "-d", target.render_as_string(hide_password=False), str(dump)],
                       check=True, timeout=300, capture_output=True)
        restored = restored_search(make_url(db_url).set(database=fresh_name).render_as_string(hide_password=False),
                                   tmp_path / "restored")
        assert restored == before
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh_name}" WITH (FORCE)'))
        admin.dispose()


def test_sqlite_backup_takes_the_files_of_queued_imports_along(db_url, tmp_path):
    """On SQLite a queued import's sheet waits beside the database (kb.uploads), outside what
    SQLite's backup API copies: without it, that import failed after a restore."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite backup command")
    from kb import jobs
    from kb.db import make_session
    from kb.models import JobKind

    engine = prepare_database(Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url))
    with make_session(engine, write=True) as s:
        job = jobs.enqueue(s, kind=JobKind.import_cases, actor="agent1", upload="工单编号\n1\n".encode(),
                           filename="s.csv")
    engine.dispose()
    copy = tmp_path / "backup.sqlite3"
    env = {**os.environ, "ZHIKU_DATABASE_URL": db_url, "ZHIKU_VAR_DIR": str(tmp_path / "var")}
    out = subprocess.run([sys.executable, "-m", "api", "backup", str(copy)], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    restored = create_engine(f"sqlite:///{copy}")
    with make_session(restored) as s:
        assert jobs.read_input(s, job.id).content == "工单编号\n1\n".encode()
    restored.dispose()
