"""Shapes that exist only for HTTP: pages, problems, key issuance, health."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from kb.models.inputs import Flag, Input

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


class KeyRequest(Input):
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


class ClassifyRequest(Input):
    """A draft case while the agent is typing."""
    subject: str = Field(default="", max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    emotion: str | None = Field(default=None, max_length=32)
    customer_kind: str | None = Field(default=None, max_length=16)
    key_customer: Flag = False
    product: str | None = Field(default=None, max_length=64)


class HeadOut(BaseModel):
    label: str | None
    confidence: float | None
    alternatives: list[dict]
    drivers: list[dict] = Field(description="the words that drove the proposal (weight × tf-idf)")
    abstain: bool = Field(description="below the label's 'suggest' threshold: show, but do not pre-fill")
    auto_apply: bool = Field(description="at or above the label's 'auto-apply' threshold")
    source: str = Field(description="model | rules")
    model_label: str | None = None
    rules_fired: list[dict] = []
    note: str | None = None


class ClassifyResponse(BaseModel):
    suggestion_id: str
    model_version: str | None
    text_version: str | None
    type: HeadOut
    priority: HeadOut
    cold_start: bool
    missing: list[str] = Field(description="what was unavailable, e.g. model_unavailable")


class SuggestionRequest(ClassifyRequest):
    channel: str | None = Field(default=None, max_length=32)
    type: str | None = Field(default=None, max_length=32, description="only cases of this type")


class SimilarCase(BaseModel):
    number: str
    subject: str
    type: str
    status: str
    product: str | None
    root_cause: str | None
    solution_temp: str | None
    solution_perm: str | None
    result: str | None
    fixed_in_version: str | None
    satisfaction: str | None
    reopen_count: int
    resolved_at: datetime | None
    score: float
    highlights: dict[str, str | None] = Field(description="HTML-escaped snippets, matches in <mark>, original script")


class ArticleHit(BaseModel):
    id: int
    title: str
    state: str
    audience: str
    product: str | None
    problem_type: str | None
    fixed_in_version: str | None
    tags: list[str]
    version: int
    helpful_ratio: float | None
    score: float
    highlights: dict[str, str | None] = Field(description="HTML-escaped snippets, matches in <mark>, original script")


class SuggestionResponse(ClassifyResponse):
    similar_cases: list[SimilarCase]
    articles: list[ArticleHit] = Field(default_factory=list,
                                       description="published articles the caller may see, best first")


class SearchResponse(BaseModel):
    kind: str = "case"
    items: list[SimilarCase] = Field(default_factory=list, description="cases (kind=case)")
    articles: list[ArticleHit] = Field(default_factory=list, description="articles (kind=article)")
    total: int
    page: int
    page_size: int
    missing: list[str] = []
