"""Users and their API keys. Keys are stored as SHA-256 hashes only; the plain key is
shown once, when it is issued."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime
from kb.models.inputs import Flag, Input


class Role(str, enum.Enum):
    agent = "agent"
    knowledge_manager = "knowledge_manager"
    analyst = "analyst"
    admin = "admin"


class UserBase(SQLModel):
    username: str = Field(min_length=2, max_length=32, schema_extra={"pattern": r"^[A-Za-z0-9_.\-]+$"})
    display_name: str = Field(min_length=1, max_length=32)
    role: Role
    group_code: str | None = Field(default=None, max_length=32)


class User(UserBase, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True, index=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


class UserCreate(UserBase, Input):
    pass


class UserUpdate(Input):
    """display_name, role and active are NOT NULL: leave them out, never null them."""

    display_name: str = Field(default=None, min_length=1, max_length=32)
    role: Role = None
    group_code: str | None = Field(default=None, max_length=32)
    active: Flag = None


class UserPublic(UserBase):
    id: int
    active: bool
    created_at: datetime


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    key_hash: str = Field(max_length=64)
    note: str = Field(default="", max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
