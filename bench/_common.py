"""Helpers shared by the bench scripts: where the public data lives, and the plain baselines."""

from __future__ import annotations

import sys
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
