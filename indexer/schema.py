"""The Whoosh schema. Text fields hold pre-segmented tokens from ``kb.text.prepare``
(joined by spaces, already lower-cased by ``kb.text.normalize``), analysed only by Whoosh's
own space tokenizer: positions are true word ordinals (phrases work) and the pickled schema
references only Whoosh classes, so refactoring our code never breaks an index on disk.
``entity_id`` is only stored: nothing searches it, and an indexed 64-bit NUMERIC costs 16
postings per document."""

from __future__ import annotations

from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, STORED, TEXT, Schema

SCHEMA_VERSION = "3"  # 3: entity_id stored only, no empty fields; common terms re-scored from postings
TEXT_FIELDS = ("title", "body", "solution")


def make_schema() -> Schema:
    def tokens() -> TEXT:
        return TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True)

    return Schema(
        doc_id=ID(unique=True, stored=True),        # "case:123" / "article:7"
        kind=ID(stored=True),
        entity_id=STORED,
        status=ID,
        type=ID,
        priority=ID,
        product=ID,
        audience=ID,
        updated_at=STORED,
        title=tokens(),
        body=tokens(),
        solution=tokens(),
    )
