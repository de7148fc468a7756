"""Helpers for analysts' notebooks: open a database *snapshot* (never the live file), so
exploring and training can't disturb the service.

    from classifier.notebook import open_snapshot
    nb = open_snapshot()            # ZHIKU_NOTEBOOK_DB=path/to/copy.sqlite3, else a fresh demo DB
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from classifier.registry import ModelRegistry
from kb.cases.service import rules_from_settings
from kb.demo import load_demo
from kb.dictionary import install_segmenter_from_db
from kb.settings import PROJECT_ROOT, Settings
from kb.setup import prepare_database
from kb.text import Segmenter


@dataclass
class Snapshot:
    settings: Settings
    engine: Engine
    registry: ModelRegistry
    segmenter: Segmenter
    source: str


def open_snapshot(db_file: str | Path | None = None, workdir: str | Path | None = None) -> Snapshot:
    """Copy ``db_file`` (or $ZHIKU_NOTEBOOK_DB) into a work directory and open the copy.
    Without one, build a database from the shipped demo cases. Models trained here go to
    the work directory's own registry; promotion to the service goes through its API/CLI."""
    workdir = Path(workdir or os.environ.get("ZHIKU_NOTEBOOK_WORKDIR") or tempfile.mkdtemp(prefix="zhiku-nb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = db_file or os.environ.get("ZHIKU_NOTEBOOK_DB")
    target = workdir / "snapshot.sqlite3"
    source = "demo"
    if db_file:
        if not target.exists():
            shutil.copyfile(db_file, target)
        source = str(db_file)
    settings = Settings(data_dir=PROJECT_ROOT / "data", var_dir=workdir, database_url=f"sqlite:///{target}")
    engine = prepare_database(settings)
    if source == "demo":
        load_demo(engine, settings.data_dir / "demo", rules_from_settings(settings))
    segmenter = install_segmenter_from_db(engine, settings.jieba_cache_dir)
    return Snapshot(settings, engine, ModelRegistry(settings.model_dir), segmenter, source)
