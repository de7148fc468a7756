"""Segmentation with jieba, the domain dictionary, and the analyzers handed to scikit-learn.

A Segmenter owns its own ``jieba.Tokenizer`` (never the global ``jieba.dt``), keeps
jieba's cache under ``var/jieba-cache`` (jieba's default temp dir is readable only by
its owner), loads the domain dictionary, and is immutable once built: a dictionary
change builds a new Segmenter and swaps the module reference (``install``), because
jieba's ``add_word`` mutates its frequency table without a lock.

ASCII runs (product and error codes, versions, order numbers: ``V2.2``, ``Android14``,
``E1024``, ``YX20240521001``) never reach jieba: they are emitted whole, so they
survive tokenisation as single tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba

from kb.privacy import redact_text
from kb.text.normalize import NORMALIZATION_VERSION, OPENCC_CONFIG, normalize

jieba.setLogLevel(logging.WARNING)

ASCII_RUN = re.compile(r"([a-z0-9]+(?:[._\-][a-z0-9]+)*[+#]*)")
_NOT_WORD = re.compile(r"^[\W_]+$")
# A suggestion normalises its draft three times and segments it twice in precise mode (the
# burst rule, the classifier, the index query in search mode): each Segmenter remembers its
# last texts, so the draft is converted and cut once per mode. Small: only texts seen moments
# ago come back (the same request, or an agent's unchanged draft asked again).
MEMO_TEXTS = 256


@dataclass(frozen=True)
class DictionarySnapshot:
    """The domain dictionary as plain data: it is stored inside every model bundle, so a
    model can always rebuild the exact segmenter it was trained with."""

    words: tuple[tuple[str, int | None, str | None], ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()     # variant → canonical token
    typos: tuple[tuple[str, str], ...] = ()        # wrong → right, replaced before segmentation

    def to_json(self) -> str:
        return json.dumps({"words": self.words, "synonyms": self.synonyms, "typos": self.typos},
                          ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> DictionarySnapshot:
        data = json.loads(raw)
        return cls(words=tuple(tuple(w) for w in data["words"]),
                   synonyms=tuple(tuple(s) for s in data["synonyms"]),
                   typos=tuple(tuple(t) for t in data["typos"]))

    @property
    def version(self) -> str:
        """Hash of everything that decides how text becomes tokens."""
        h = hashlib.sha256()
        for part in (NORMALIZATION_VERSION, OPENCC_CONFIG, jieba.__version__, self.to_json()):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()[:12]


@dataclass
class Segmenter:
    snapshot: DictionarySnapshot
    cache_dir: Path | None = None
    _tokenizer: jieba.Tokenizer = field(init=False, repr=False)
    _synonyms: dict[str, str] = field(init=False, repr=False)
    _typo_re: re.Pattern | None = field(init=False, repr=False)
    _typos: dict[str, str] = field(init=False, repr=False)
    _normalize_memo: Callable[[str], str] = field(init=False, repr=False)
    _tokens_memo: Callable[[str, str], tuple[str, ...]] = field(init=False, repr=False)
    _version: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # hashed once: the snapshot never changes, and hashing its JSON on every call (the burst
        # rule asks once per suggestion) was ~0.1 ms of each at the shipped dictionary's size
        self._version = self.snapshot.version
        tokenizer = jieba.Tokenizer()
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(self.cache_dir)
        tokenizer.initialize()
        for term, freq, tag in self.snapshot.words:
            tokenizer.add_word(normalize(term), freq, tag)
        for variant, canonical in self.snapshot.synonyms:
            tokenizer.add_word(normalize(variant))
            tokenizer.add_word(normalize(canonical))
        self._tokenizer = tokenizer
        self._synonyms = {normalize(v): normalize(c) for v, c in self.snapshot.synonyms}
        self._typos = {normalize(w): normalize(r) for w, r in self.snapshot.typos}
        if self._typos:
            alternatives = sorted(self._typos, key=len, reverse=True)
            self._typo_re = re.compile("|".join(map(re.escape, alternatives)))
        else:
            self._typo_re = None
        self._normalize_memo = lru_cache(maxsize=MEMO_TEXTS)(self._normalize)
        self._tokens_memo = lru_cache(maxsize=MEMO_TEXTS)(self._tokens)

    @property
    def version(self) -> str:
        return self._version

    def normalize(self, text: str) -> str:
        """Redact, normalise and correct known typos: the text both analyzers see."""
        return self._normalize_memo(text)

    def _normalize(self, text: str) -> str:
        text = normalize(redact_text(text) or "")
        if self._typo_re is not None:
            text = self._typo_re.sub(lambda m: self._typos[m.group()], text)
        return text

    def tokens(self, normalized: str, mode: str = "classify") -> list[str]:
        """Tokens of already-normalised text.

        ``index`` mode: jieba's search mode (sub-words too) with the HMM for unknown words, for
        recall. ``classify`` mode: precise mode without the HMM — words unknown to the dictionary
        are still seen by the classifier's character n-grams, and the HMM costs a third of the
        segmentation time on every keystroke-driven proposal."""
        return list(self._tokens_memo(normalized, mode))

    def _tokens(self, normalized: str, mode: str) -> tuple[str, ...]:
        out: list[str] = []
        if mode == "index":
            cut = self._tokenizer.cut_for_search
        else:
            def cut(piece: str):
                return self._tokenizer.cut(piece, HMM=False)
        for i, piece in enumerate(ASCII_RUN.split(normalized)):
            if not piece:
                continue
            if i % 2 == 1:          # an ASCII run: one token
                out.append(piece)
                continue
            synonyms = self._synonyms
            for tok in cut(piece):
                # isalnum() is true for Chinese words: the regex only runs on the rare rest
                if tok.isalnum() or ((tok := tok.strip()) and not _NOT_WORD.match(tok)):
                    out.append(synonyms.get(tok, tok))
        return tuple(out)


_lock = threading.Lock()
_current: Segmenter | None = None
_by_version: dict[str, Segmenter] = {}


def install(segmenter: Segmenter) -> None:
    """Make ``segmenter`` the current one (one assignment; in-flight calls finish on the old)."""
    global _current
    with _lock:
        _by_version[segmenter.version] = segmenter
        _current = segmenter


def current() -> Segmenter:
    seg = _current
    if seg is None:
        raise RuntimeError("no segmenter installed: call kb.text.install_default() or kb.text.install()")
    return seg


def for_version(version: str, snapshot: DictionarySnapshot | None = None,
                cache_dir: Path | None = None) -> Segmenter:
    """The segmenter of a given text version, rebuilt from ``snapshot`` when not yet built."""
    seg = _by_version.get(version)
    if seg is not None:
        return seg
    if snapshot is None or snapshot.version != version:
        raise LookupError(f"text version {version} is not available")
    seg = Segmenter(snapshot, cache_dir)
    with _lock:
        _by_version.setdefault(version, seg)
        # keep the current one and at most a few others (models trained on older dictionaries)
        for old in [v for v in _by_version if v not in (version, _current and _current.version)][:-3]:
            del _by_version[old]
    return _by_version[version]


def char_ngrams(normalized: str, n_min: int = 1, n_max: int = 3) -> list[str]:
    """Character n-grams of the normalised text, within runs of non-space characters."""
    out: list[str] = []
    for chunk in normalized.split(" "):
        size = len(chunk)
        for n in range(n_min, n_max + 1):
            out.extend(chunk[i:i + n] for i in range(size - n + 1))
    return out


class JiebaAnalyzer:
    """Word analyzer for ``TfidfVectorizer(analyzer=JiebaAnalyzer(version))``.

    PERSISTED CONTRACT: saved models reference ``kb.text.segment.JiebaAnalyzer`` by import
    path; moving or renaming it breaks every saved model. Its only state is the text
    version; the segmenter is looked up at call time, so a pickle never drags in jieba's
    dictionary or its lock."""

    def __init__(self, text_version: str) -> None:
        self.text_version = text_version

    def __call__(self, doc: str) -> list[str]:
        seg = for_version(self.text_version)
        return seg.tokens(seg.normalize(doc), "classify")


class CharNgramAnalyzer:
    """Character n-gram analyzer over the same normalised text. PERSISTED CONTRACT as above."""

    def __init__(self, text_version: str, n_min: int = 1, n_max: int = 3) -> None:
        self.text_version = text_version
        self.n_min = n_min
        self.n_max = n_max

    def __call__(self, doc: str) -> list[str]:
        return char_ngrams(for_version(self.text_version).normalize(doc), self.n_min, self.n_max)


def read_dictionary_file(path: Path) -> DictionarySnapshot:
    """``data/dictionaries/domain.tsv``: ``word<TAB>term[<TAB>freq]``, ``synonym<TAB>variant<TAB>canonical``,
    ``typo<TAB>wrong<TAB>right``; ``#`` starts a comment."""
    words, synonyms, typos = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        kind, *rest = [p.strip() for p in line.split("\t")]
        if kind == "word":
            words.append((rest[0], int(rest[1]) if len(rest) > 1 and rest[1] else None, None))
        elif kind == "synonym":
            synonyms.append((rest[0], rest[1]))
        elif kind == "typo":
            typos.append((rest[0], rest[1]))
        else:
            raise ValueError(f"{path.name}: unknown kind {kind!r}")
    return snapshot_of(words, synonyms, typos)


def snapshot_of(words: Iterable[tuple], synonyms: Iterable[tuple], typos: Iterable[tuple]) -> DictionarySnapshot:
    return DictionarySnapshot(words=tuple(sorted(tuple(w) for w in words)),
                              synonyms=tuple(sorted(tuple(s) for s in synonyms)),
                              typos=tuple(sorted(tuple(t) for t in typos)))
