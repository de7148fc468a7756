"""Dependencies point one way: api → classifier, indexer → kb; kb imports no web/index/ML library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "kb": {"api", "classifier", "indexer", "fastapi", "starlette", "uvicorn", "whoosh", "sklearn", "joblib"},
    "classifier": {"api", "indexer", "fastapi", "starlette", "whoosh"},
    "indexer": {"api", "classifier", "fastapi", "starlette", "sklearn"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_no_absolute_path_of_this_checkout_in_code_or_docs():
    here = str(ROOT)
    for path in ROOT.rglob("*"):
        if path.suffix not in {".py", ".md", ".toml", ".sh", ".ini", ".cfg"} or {".venv", "var"} & set(path.parts):
            continue
        assert here not in path.read_text(encoding="utf-8"), path
