"""/api/v1/dictionary: the domain dictionary knowledge managers maintain (words, synonyms, typos).
A change rebuilds the segmenter in every worker and bumps the text version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import AnyUser, ClockDep, Id, KnowledgeManager, SessionDep
from api.schemas import PROBLEM_RESPONSES
from kb import dictionary
from kb.models import DictionaryTermCreate, DictionaryTermPublic
from kb.text import version as text_version

router = APIRouter(prefix="/api/v1/dictionary", tags=["dictionary"], responses=PROBLEM_RESPONSES)


@router.get("", operation_id="dictionary-list")
def list_terms(session: SessionDep, _user: AnyUser,
               kind: Annotated[str | None, Query(pattern="^(word|synonym|typo)$")] = None) -> dict:
    return {"text_version": text_version(),
            "terms": [DictionaryTermPublic.model_validate(t) for t in dictionary.list_terms(session, kind)]}


@router.post("", status_code=201, response_model=DictionaryTermPublic, operation_id="dictionary-add")
def add_term(data: DictionaryTermCreate, session: SessionDep, user: KnowledgeManager, clock: ClockDep,
             request: Request) -> DictionaryTermPublic:
    """新增词条：word（产品名、错误码）、synonym（同义词 → 规范词）、typo（常见错别字 → 正确写法，如 登陆 → 登录）。"""
    term = dictionary.add_term(session, data, actor=user.username, now=clock.now())
    request.app.state.refresher.tick()
    return DictionaryTermPublic.model_validate(term)


@router.delete("/{term_id}", response_model=DictionaryTermPublic, operation_id="dictionary-delete")
def delete_term(term_id: Id, session: SessionDep, _user: KnowledgeManager, request: Request) -> DictionaryTermPublic:
    term = dictionary.delete_term(session, term_id)
    request.app.state.refresher.tick()
    return DictionaryTermPublic.model_validate(term)
