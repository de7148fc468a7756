"""Shared fixtures: real databases (a migrated SQLite template copied per test, or a
throwaway PostgreSQL when ZHIKU_TEST_POSTGRES_URL is set), the real app with its lifespan,
and API keys for each role."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from api.app import create_app
from kb.access import create_user, issue_key
from kb.articles.audience import load_default_audiences
from kb.cases.service import CaseRules, rules_from_settings
from kb.clock import DEFAULT_TZ, FixedClock
from kb.db import make_engine, make_session, session_scope
from kb.models import Role, UserCreate
from kb.settings import PROJECT_ROOT, Settings
from kb.setup import prepare_database
from kb.taxonomy import load_default_taxonomy

DATA_DIR = PROJECT_ROOT / "data"
DEMO_CASES = sum(1 for line in (DATA_DIR / "demo" / "cases.jsonl").open(encoding="utf-8") if line.strip())
POSTGRES_URL = os.environ.get("ZHIKU_TEST_POSTGRES_URL")
# The suite keeps this machine's CPUs busy by itself, so an import pacing itself on the machine's
# load (api.pacing) would wait its longest after every chunk; the pacer has tests of its own.
os.environ.setdefault("ZHIKU_IMPORT_PAUSE_WHEN_BUSY", "1")
# 2024-05-21 (Tuesday) 09:30 Asia/Shanghai: the date of the templates' example case number.
T0 = datetime(2024, 5, 21, 9, 30, tzinfo=DEFAULT_TZ)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    settings = Settings(data_dir=DATA_DIR, var_dir=path.parent, database_url=sqlite_url(path))
    prepare_database(settings).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id) -> Iterator[str]:
    """A database of its own for this pytest-xdist worker on the throwaway server."""
    if not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    server = make_url(POSTGRES_URL)
    name = f"zhiku_test_{worker_id}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url) -> Iterator[Engine]:
    engine = prepare_database(Settings(data_dir=DATA_DIR, database_url=postgres_url))
    yield engine
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with session_scope(engine, write=True) as session:
        load_default_taxonomy(session, DATA_DIR / "taxonomy.default.toml")
        load_default_audiences(session, DATA_DIR / "taxonomy.default.toml")
        session.commit()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated database with the default taxonomy, private to this test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "zhiku.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return sqlite_url(path)
    engine = request.getfixturevalue("postgres_engine")
    _reset_postgres(engine)
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with make_session(engine, write=True) as s:
        yield s


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at=T0)


@pytest.fixture
def rules(settings, clock) -> CaseRules:
    return rules_from_settings(settings, clock)


def add_user(engine: Engine, username: str, role: Role, *, group: str | None = None) -> str:
    with make_session(engine, write=True) as s:
        user = create_user(s, UserCreate(username=username, display_name=username, role=role, group_code=group),
                           now=T0)
        _, plain = issue_key(s, user, now=T0)
    return plain


class Api:
    """A TestClient plus one key per role; ``api.as_(role)`` gives auth headers."""

    def __init__(self, client: TestClient, engine: Engine, keys: dict[Role, str]) -> None:
        self.client = client
        self.engine = engine
        self.keys = keys

    def as_(self, role: Role | str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[Role(role)]}"}

    def post(self, url: str, role: Role | str = Role.agent, **kw):
        return self.client.post(url, headers=self.as_(role), **kw)

    def patch(self, url: str, role: Role | str = Role.agent, **kw):
        return self.client.patch(url, headers=self.as_(role), **kw)

    def get(self, url: str, role: Role | str = Role.agent, **kw):
        return self.client.get(url, headers=self.as_(role), **kw)


@pytest.fixture
def api(db_url, tmp_path, clock) -> Iterator[Api]:
    settings = Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        engine = app.state.engine
        keys = {role: add_user(engine, f"u_{role.value}", role) for role in Role}
        yield Api(client, engine, keys)


@pytest.fixture(scope="session")
def segmenter(tmp_path_factory):
    """The default dictionary's segmenter (same text version as a freshly seeded database)."""
    from kb.text import install_default

    return install_default(DATA_DIR / "dictionaries" / "domain.tsv", tmp_path_factory.mktemp("jieba"))


@pytest.fixture(scope="session")
def trained_bundle(segmenter):
    """A real model trained once per session on the shipped demo cases."""
    from classifier import dataset
    from classifier.train import fit

    return fit(dataset.from_demo(DATA_DIR / "demo" / "cases.jsonl"), segmenter=segmenter, trained_by="tests")


@pytest.fixture(scope="session")
def saved_model(trained_bundle, tmp_path_factory, sqlite_template):
    """The session bundle saved once through the registry; returns (directory, row values)."""
    from classifier.registry import ModelRegistry

    root = tmp_path_factory.mktemp("models")
    path = root / "registry.sqlite3"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(sqlite_url(path))
    with make_session(engine, write=True) as s:
        row = ModelRegistry(root).save(s, trained_bundle, now=T0)
        values = row.model_dump(exclude={"id"})
    engine.dispose()
    return root / row.version, values


def install_model(app, saved_model) -> str:
    """Copy the saved version into this app's registry, register and promote it, load it."""
    from kb.models import ModelVersion

    directory, values = saved_model
    shutil.copytree(directory, app.state.registry.root / directory.name)
    with make_session(app.state.engine, write=True) as s:
        s.add(ModelVersion(**values))
        s.commit()
        app.state.registry.promote(s, values["version"], actor="tests", now=T0,
                                   active_labels={"type": {"咨询", "投诉", "建议", "变更", "其他"},
                                                  "priority": {"高", "中", "低"}},
                                   text_version=None)
        app.state.predictor.refresh(s)
    return values["version"]


@pytest.fixture
def api_model(api, saved_model) -> Api:
    """The app with a real trained model in production."""
    api.model_version = install_model(api.client.app, saved_model)
    return api


def case_payload(**overrides) -> dict:
    payload = {
        "contact_at": "2024-05-21T09:15:00+08:00",
        "channel": "电话",
        "customer_name": "杭州云帆科技有限公司",
        "customer_id": "C100233",
        "customer_kind": "企业客户",
        "industry": "软件和信息技术服务业",
        "contact": "13812345678",
        "subject": "考勤打卡定位失败",
        "description": "员工用App打卡一直提示不在考勤范围内，错误码E1024，回电13912345678。版本 智能办公系统 V2.1 考勤模块。",
        "product": "智能办公系统",
        "module": "考勤模块",
        "product_version": "V2.1",
        "emotion": "焦急",
        "type": "投诉",
        "priority": "高",
        "tags": ["考勤", "E1024"],
    }
    payload.update(overrides)
    return payload


def wait_for(fn, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``fn`` until it returns something truthy or ``timeout`` passes; return its last value
    (the caller asserts on it, so a timeout fails with the caller's message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def fresh_postgres_database(name: str) -> str:
    """An empty database ``name`` on the throwaway PostgreSQL server; returns its URL."""
    server = make_url(POSTGRES_URL)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)
