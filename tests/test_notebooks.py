"""The analysts' notebooks run top to bottom on the demo data, so they never rot."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from kb.settings import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.slow


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), path.name


def test_the_four_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


def test_notebooks_execute_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIKU_NOTEBOOK_WORKDIR", str(tmp_path / "work"))
    monkeypatch.delenv("ZHIKU_NOTEBOOK_DB", raising=False)
    for path in NOTEBOOKS:            # 02 saves candidates that 03 promotes: same work directory
        book = nbformat.read(path, as_version=4)
        NotebookClient(book, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        errors = [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (path.name, errors)
    assert (tmp_path / "work" / "candidates.json").exists()
    assert os.listdir(tmp_path / "work" / "models")
