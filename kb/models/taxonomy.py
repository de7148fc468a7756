"""The taxonomy is data: types, priorities, channels, emotions and routing groups are
rows a deployment configures (default file ``data/taxonomy.default.toml``)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.models.inputs import json_int, Flag, Input

TAXONOMY_KINDS = ("type", "priority", "channel", "emotion", "group")
TaxonomyKind = Literal["type", "priority", "channel", "emotion", "group"]


class LabelBase(SQLModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=500)
    sort_order: int = Field(default=0, ge=0, le=10_000)
    active: bool = True
    route_group: str | None = Field(
        default=None, max_length=32, description="for type labels: the group that receives these cases"
    )


class Label(LabelBase, table=True):
    __tablename__ = "label"
    __table_args__ = (UniqueConstraint("kind", "code", name="uq_label_kind_code"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)


class LabelCreate(LabelBase, Input):
    sort_order: json_int(0, 10_000) = 0
    active: Flag = True


class LabelUpdate(Input):
    """name, description, sort_order and active are NOT NULL: leave them out, never null them."""

    name: str = Field(default=None, min_length=1, max_length=64)
    description: str = Field(default=None, max_length=500)
    sort_order: json_int(0, 10_000) = None
    active: Flag = None
    route_group: str | None = Field(default=None, max_length=32)


class LabelPublic(LabelBase):
    kind: str
