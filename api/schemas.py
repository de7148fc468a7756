"""Shapes that exist only for HTTP: pages, problems, key issuance, health."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class ProblemError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemError] = []


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=200)


class IssuedKey(BaseModel):
    prefix: str
    key: str = Field(description="shown once; store it safely")
    username: str
    role: str
    created_at: datetime


class KeyPublic(BaseModel):
    prefix: str
    note: str
    created_at: datetime
    revoked_at: datetime | None


PROBLEM_RESPONSES = {
    401: {"model": Problem, "description": "missing or invalid API key"},
    403: {"model": Problem, "description": "role not allowed"},
    422: {"model": Problem, "description": "invalid field"},
}
