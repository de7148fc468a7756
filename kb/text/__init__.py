"""THE text pipeline: the only path from text to tokens, for training, indexing and querying.

``prepare(text, mode)`` = redact personal numbers → normalise (NFKC, lower case,
Traditional→Simplified, typo fixes) → segment with jieba and the domain dictionary →
drop punctuation. ``version()`` names the rules and dictionary in force; it is
recorded in every model and index, which refuse to mix versions.
"""

from __future__ import annotations

from pathlib import Path

from kb.text.segment import (
    CharNgramAnalyzer,
    DictionarySnapshot,
    JiebaAnalyzer,
    Segmenter,
    current,
    for_version,
    install,
    read_dictionary_file,
)

__all__ = ["CharNgramAnalyzer", "DictionarySnapshot", "JiebaAnalyzer", "Segmenter", "current", "for_version",
           "install", "install_default", "prepare", "version"]


def prepare(text: str, mode: str = "classify") -> list[str]:
    """Tokens of ``text``: ``mode="index"`` adds search sub-words for recall, ``"classify"`` is precise."""
    seg = current()
    return seg.tokens(seg.normalize(text), mode)


def version() -> str:
    return current().version


def install_default(dictionary_file: Path, cache_dir: Path | None = None) -> Segmenter:
    """Build and install a segmenter from a dictionary file (tests, notebooks, CLIs without a DB)."""
    seg = Segmenter(read_dictionary_file(dictionary_file), cache_dir)
    install(seg)
    return seg
