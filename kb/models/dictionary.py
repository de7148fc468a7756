"""The knowledge managers' domain dictionary: product names, error codes, synonyms, typos."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, model_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime

TermKind = Literal["word", "synonym", "typo"]


class DictionaryTermBase(SQLModel):
    kind: str = Field(default="word", max_length=8, description="word | synonym | typo")
    term: str = Field(min_length=1, max_length=32)
    canonical: str | None = Field(default=None, max_length=32, description="synonym → canonical; typo → correct")
    freq: int | None = Field(default=None, ge=1, le=10_000_000, description="jieba frequency (word only)")


class DictionaryTerm(DictionaryTermBase, table=True):
    __tablename__ = "dictionary_term"
    __table_args__ = (UniqueConstraint("kind", "term", name="uq_dictionary_kind_term"),)

    id: int | None = Field(default=None, primary_key=True)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DictionaryTermCreate(DictionaryTermBase):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: TermKind = "word"

    @model_validator(mode="after")
    def _canonical_matches_kind(self) -> "DictionaryTermCreate":
        if self.kind in ("synonym", "typo") and not self.canonical:
            raise ValueError("canonical is required for synonym and typo")
        if self.kind == "word" and self.canonical:
            raise ValueError("canonical is only for synonym and typo")
        if self.canonical and self.canonical == self.term:
            raise ValueError("canonical must differ from term")
        return self


class DictionaryTermPublic(DictionaryTermBase):
    id: int
    created_by: str
    created_at: datetime
