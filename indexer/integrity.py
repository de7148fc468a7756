"""Checksums of a generation's files, so damage that Whoosh would read without complaint (bytes
flipped inside a segment: it has no checksums of its own) is found before it is served.

The writer records ``CHECKSUMS.json`` after each commit (segment files never change once
written, so only new files are hashed) and verifies the live generation when it becomes the
writer — at every start, which is when a disk or a copy may have damaged files. Truncation
and unreadable files are also caught on every open and read (``WhooshIndex``)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

MANIFEST = "CHECKSUMS.json"
CORRUPT_MARK = "CORRUPT"
UNCHECKED = {MANIFEST, CORRUPT_MARK, "MAIN_WRITELOCK", "CHECKSUMS.json.tmp", "CURSOR.json", "CURSOR.json.tmp"}
CHUNK = 1024 * 1024


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _read(directory: Path) -> dict[str, dict]:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def record(directory: Path) -> None:
    """Write the manifest of every file now in ``directory`` (after a commit, by the writer)."""
    previous = _read(directory)
    manifest = {}
    for path in sorted(directory.iterdir()):
        if path.name in UNCHECKED or not path.is_file():
            continue
        # a name already recorded keeps its first entry: Whoosh never rewrites a file, so a
        # later difference is damage for verify() to find, not something to re-record
        manifest[path.name] = previous.get(path.name) or {"size": path.stat().st_size, "crc32": _crc(path)}
    tmp = directory / "CHECKSUMS.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=0), encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)


def verify(directory: Path) -> str | None:
    """Why the files of ``directory`` differ from its manifest, or None when they match (a
    generation written before manifests existed has none and passes)."""
    for name, expected in _read(directory).items():
        path = directory / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return f"{name} is missing"
        if size != expected["size"]:
            return f"{name} has {size} bytes, {expected['size']} were written"
        if _crc(path) != expected["crc32"]:
            return f"{name} does not match its checksum"
    return None


def mark_corrupt(directory: Path, reason: str) -> None:
    """Tell every process (searchers, the writer) that this generation must not be used."""
    try:
        (directory / CORRUPT_MARK).write_text(reason, encoding="utf-8")
    except FileNotFoundError:      # the generation was already replaced and removed
        pass


def corrupt_reason(directory: Path) -> str | None:
    try:
        return (directory / CORRUPT_MARK).read_text(encoding="utf-8") or "marked corrupt"
    except FileNotFoundError:
        return None
