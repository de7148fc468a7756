"""The knowledge managers' domain dictionary: product names, error codes, synonyms, typos."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ValidationInfo, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime
from kb.models.inputs import json_int, Input

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


class DictionaryTermCreate(Input):
    kind: TermKind = "word"
    term: str = PydanticField(min_length=1, max_length=32)
    canonical: str | None = PydanticField(default=None, max_length=32, validate_default=True,
                                          description="synonym → canonical; typo → correct")
    freq: json_int(1, 10_000_000) | None = PydanticField(default=None, description="jieba frequency (word only)")

    @field_validator("canonical")
    @classmethod
    def _canonical_matches_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind in ("synonym", "typo") and not value:
            raise ValueError("同义词和错别字必须填写 canonical（规范写法）")
        if kind == "word" and value:
            raise ValueError("canonical 只用于同义词和错别字")
        if value and value == info.data.get("term"):
            raise ValueError("canonical 必须与 term 不同")
        return value


class DictionaryTermPublic(DictionaryTermBase):
    id: int
    created_by: str
    created_at: datetime
