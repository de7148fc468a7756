"""Each segment's postings written once as flat arrays beside it, memory-mapped by every searcher.

Why: a draft brings words the worker has not searched before, and each one's postings were
read through Whoosh (a term-file look-up, then one unpickle per block of 128 postings): ~10 %
of a suggestion's CPU at 100k cases, and at 1M the long lists read cold set the p99. Segments
never change once written, so the index writer reads every term of a new segment once, in its
own process, and stores per text field the sorted terms, their offsets, and the document
numbers and frequencies of all postings. A searcher then finds a term's postings with a dict
look-up and two array slices of a file the page cache shares between workers. The same pass
stores each document's field lengths and entity id (``Packed``): read per document through
Whoosh, they were the first searches' cost after every merge, in every worker.

Files are named ``<segment id>.packed.<field>.<part>`` so Whoosh's own clean-up removes them
with their segment after a merge, and the generation's checksums (``indexer.integrity``) cover
them. ``<segment id>.packed.json`` is written last: a segment without it has no packed
postings (written before this existed, or the writer stopped half-way) and is read through
Whoosh as before, with the same numbers (``tests/indexer/test_packed.py``).

The arrays are memory-mapped (shared, and nothing to read until used), unlike Whoosh's own
files: a packed file truncated in place under a running worker would stop that worker
(SIGBUS; the supervisor restarts it). Files are only ever created whole (``os.replace``) and
never written again, and the checksums find damage at the writer's start."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.postings import field_lengths, segment_postings
from indexer.schema import TEXT_FIELDS

log = logging.getLogger("zhiku.indexer")
_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


def _name(segment_id: str, part: str) -> str:
    return f"{segment_id}.packed.{part}"


class Packed(dict):
    """A segment's packed fields (field → ``PackedField``) and the entity id stored with each of
    its documents (None for segments packed before ids were)."""

    entity_ids: np.ndarray | None = None


@dataclass(frozen=True)
class PackedField:
    """One field of one segment: term → row, and the postings of row i at offsets[i]:offsets[i+1]."""

    rows: dict[str, int]
    offsets: np.ndarray
    ids: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray | None = None    # each document's length in the field, as Whoosh scores with it

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies), deleted documents included — as ``term_postings``."""
        row = self.rows.get(term)
        if row is None:
            return _EMPTY
        start, end = self.offsets[row], self.offsets[row + 1]
        return self.ids[start:end], self.tfs[start:end]

    def doc_frequency(self, term: str) -> int:
        row = self.rows.get(term)
        return 0 if row is None else int(self.offsets[row + 1] - self.offsets[row])


def _save(directory: Path, name: str, array: np.ndarray) -> None:
    tmp = directory / f".{name}.tmp"
    with open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
    os.replace(tmp, directory / name)


def write_segment(directory: Path, reader, fields: tuple[str, ...] = TEXT_FIELDS) -> int:
    """Pack the postings of ``fields`` of one segment reader; returns the postings written."""
    segment_id = reader.segment().segment_id()
    counts = {}
    for field in fields:
        terms, id_parts, tf_parts, offsets = [], [], [], [0]
        for term, ids, tfs in segment_postings(reader, field):       # none for a field not in the schema
            terms.append(term)
            id_parts.append(ids.astype(np.int32))
            tf_parts.append(tfs.astype(np.float32))
            offsets.append(offsets[-1] + len(ids))
        _save(directory, _name(segment_id, f"{field}.ids.npy"),
              np.concatenate(id_parts) if id_parts else _EMPTY[0])
        _save(directory, _name(segment_id, f"{field}.tfs.npy"),
              np.concatenate(tf_parts) if tf_parts else _EMPTY[1])
        _save(directory, _name(segment_id, f"{field}.offsets.npy"), np.asarray(offsets, dtype=np.int64))
        (directory / _name(segment_id, f"{field}.terms.json")).write_text(
            json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        counts[field] = offsets[-1]
    _write_documents(directory, reader, fields)
    manifest = directory / _name(segment_id, "json")
    tmp = directory / f".{manifest.name}.tmp"
    tmp.write_text(json.dumps({"fields": list(fields), "postings": counts}), encoding="utf-8")
    os.replace(tmp, manifest)             # last: its presence says the segment is complete
    return sum(counts.values())


def _write_documents(directory: Path, reader, fields: tuple[str, ...]) -> None:
    """Each document's field lengths and stored entity id (deleted documents included), then
    the ``documents`` marker. Files of their own, never rewritten (``indexer.integrity``
    treats a changed file as damage): a segment packed before these existed gets them added."""
    segment_id = reader.segment().segment_id()
    for field in fields:
        _save(directory, _name(segment_id, f"{field}.lengths.npy"), field_lengths(reader, field))
    size = reader.doc_count_all()
    _save(directory, _name(segment_id, "entity.npy"), np.fromiter(
        (int(reader.stored_fields(d).get("entity_id", -1)) for d in range(size)), dtype=np.int64, count=size))
    (directory / _name(segment_id, "documents")).touch()


def _manifest(directory: Path, segment_id: str) -> dict | None:
    try:
        return json.loads((directory / _name(segment_id, "json")).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _is_packed(directory: Path, segment_id: str) -> bool:
    return (directory / _name(segment_id, "json")).exists()


def commit_packed(writer, directory: Path, fields: tuple[str, ...] = TEXT_FIELDS, **commit: object) -> int:
    """``writer.commit(**commit)``, with every segment of the new commit packed before the commit
    is published (its table of contents written). Packed after it, a new segment — a merge's
    result of tens of thousands of documents above all — was read through Whoosh by every
    searcher that opened the commit before the writer had packed it (during a 20,000-row
    import: most searches). Returns the segments packed."""
    from whoosh.reading import SegmentReader

    publish = writer._commit_toc
    written = 0

    def pack_then_publish(segments) -> None:
        nonlocal written
        for segment in segments:
            if segment.doc_count_all() and not _is_packed(directory, segment.segment_id()):
                reader = SegmentReader(writer.storage, writer.schema, segment)
                try:
                    write_segment(directory, reader, fields)
                finally:
                    reader.close()
                written += 1
        publish(segments)

    writer._commit_toc = pack_then_publish
    writer.commit(**commit)
    return written


def write_missing(ix, directory: Path, fields: tuple[str, ...] = TEXT_FIELDS) -> int:
    """Pack every segment of the index's latest commit that has no packed postings yet: those
    written before packing existed, or by a rebuild's bulk writer (the live writer packs with
    ``commit_packed``); a segment packed before lengths and entity ids were gets those. Returns
    segments written to."""
    written = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():     # a single segment's reader lists itself
            if leaf.segment() is None or leaf.doc_count_all() == 0:
                continue
            segment_id = leaf.segment().segment_id()
            manifest = _manifest(directory, segment_id)
            if manifest is None:
                write_segment(directory, leaf, fields)
                written += 1
            elif not (directory / _name(segment_id, "documents")).exists():
                _write_documents(directory, leaf, tuple(manifest["fields"]))
                written += 1
    return written


def _mapped(path: Path) -> np.ndarray:
    """The array memory-mapped read-only, as a plain ndarray view (which keeps the mapping
    open): every slice and arithmetic result of an ``np.memmap`` goes through its Python
    ``__array_finalize__``/``__array_wrap__``, ~5 % of a suggestion's time in a profile."""
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def load(directory: Path, segment_id: str) -> Packed | None:
    """The segment's packed fields, memory-mapped; None when it has none or they cannot be
    read (the searcher then reads Whoosh's postings, which checksums and reopen checks guard)."""
    try:
        manifest = json.loads((directory / _name(segment_id, "json")).read_text(encoding="utf-8"))
        documents = (directory / _name(segment_id, "documents")).exists()   # lengths and entity ids packed too
        out = Packed()
        if documents:
            out.entity_ids = _mapped(directory / _name(segment_id, "entity.npy"))
        for field in manifest["fields"]:
            terms = json.loads((directory / _name(segment_id, f"{field}.terms.json")).read_text(encoding="utf-8"))
            offsets = np.load(directory / _name(segment_id, f"{field}.offsets.npy"), allow_pickle=False)
            ids = _mapped(directory / _name(segment_id, f"{field}.ids.npy"))
            tfs = _mapped(directory / _name(segment_id, f"{field}.tfs.npy"))
            if len(offsets) != len(terms) + 1 or len(ids) != offsets[-1] or len(tfs) != offsets[-1]:
                raise ValueError(f"{segment_id} {field}: packed arrays disagree")
            lengths = _mapped(directory / _name(segment_id, f"{field}.lengths.npy")) if documents else None
            if documents and len(lengths) != len(out.entity_ids):
                raise ValueError(f"{segment_id} {field}: packed lengths and entity ids disagree")
            out[field] = PackedField({t: i for i, t in enumerate(terms)}, offsets, ids, tfs, lengths)
        return out
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("packed postings unreadable; reading Whoosh's", extra={"segment": segment_id, "error": str(exc)})
        return None
