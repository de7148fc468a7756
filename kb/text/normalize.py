"""Text normalisation shared by training, indexing and querying.

NFKC folds full-width letters, digits and punctuation to half width; lower-casing
makes ``V2.2`` and ``v2.2`` one token; OpenCC ``tw2sp`` converts Traditional to
Simplified at phrase level (軟體→软件, 登錄→登录, 滑鼠→鼠标), so a query in one script
finds cases written in the other. Bump NORMALIZATION_VERSION when these rules change:
it is part of the text version stored in every model and index.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import opencc

NORMALIZATION_VERSION = "2"  # 2: classify mode segments without the HMM
OPENCC_CONFIG = "tw2sp"

_local = threading.local()
_SPACES = re.compile(r"\s+")


def _converter() -> opencc.OpenCC:
    # One converter per thread: the binding gives no thread-safety guarantee.
    conv = getattr(_local, "converter", None)
    if conv is None:
        conv = _local.converter = opencc.OpenCC(OPENCC_CONFIG)
    return conv


def to_simplified(text: str) -> str:
    return _converter().convert(text)


def normalize(text: str) -> str:
    """NFKC + lower case + Traditional→Simplified + collapsed white space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES.sub(" ", to_simplified(text)).strip()
