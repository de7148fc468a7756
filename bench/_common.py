"""Helpers shared by the bench scripts: where the public data lives, and the plain baselines."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def read_tsv(relative: str) -> pd.DataFrame:
    path = SHARED_DATA / relative
    if not path.is_file():
        raise SystemExit(f"missing {path.relative_to(ROOT.parent)}: the public data sets live in ../shared/data")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def default_segmenter():
    """The product's text pipeline with the shipped default dictionary."""
    from kb.text import install_default

    return install_default(ROOT / "data" / "dictionaries" / "domain.tsv", ROOT / "data" / "var" / "jieba-cache")


def finish(ok: bool, summary: str) -> None:
    print(f"targets met: {'yes' if ok else 'no'} — {summary}")
    sys.exit(0 if ok else 1)


def postgres_database(server_url: str, name: str, template: str | None = None) -> str:
    """A fresh database ``name`` on ``server_url``'s server (dropped first if it exists; a copy
    of ``template`` when given); returns its URL."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import OperationalError

    copy = f' TEMPLATE "{template}"' if template else ""
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for attempt in range(20):    # autovacuum may still be on the template for a moment
                try:
                    c.execute(text(f'CREATE DATABASE "{name}"{copy}'))
                    break
                except OperationalError:
                    if attempt == 19:
                        raise
                    time.sleep(0.5)
    finally:
        server.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
