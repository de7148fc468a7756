"""Case → index document. Pure: redaction and segmentation happen in ``kb.text.prepare``;
only ids, filter fields and tokens go into the index — text shown to people is re-read
from the database."""

from __future__ import annotations

from typing import Any

from kb.models import Case, CaseStatus
from kb.text import Segmenter

INDEXABLE = frozenset({CaseStatus.resolved, CaseStatus.closed})


def doc_id(kind: str, entity_id: int) -> str:
    return f"{kind}:{entity_id}"


def is_indexable(case: Case | None) -> bool:
    return case is not None and case.status in INDEXABLE


def _tokens(seg: Segmenter, *parts: str | None) -> str:
    return " ".join(seg.tokens(seg.normalize(" \n".join(p for p in parts if p)), "index"))


def case_document(case: Case, seg: Segmenter) -> dict[str, Any]:
    """The index document of a case, tokenised by ``seg`` (the segmenter of the target generation)."""
    codes = " ".join(p for p in (case.product, case.module, case.product_version, case.fixed_in_version) if p)
    document = {
        "doc_id": doc_id("case", case.id),
        "kind": "case",
        "entity_id": case.id,
        "status": case.status.value,
        "type": case.type,
        "priority": case.priority,
        "product": case.product or "",
        "audience": "",
        "updated_at": case.updated_at.isoformat(),
        "title": _tokens(seg, case.subject),
        "body": _tokens(seg, case.description, case.analysis, case.root_cause, codes, " ".join(case.tags or [])),
        "solution": _tokens(seg, case.solution_temp, case.solution_perm, case.result),
    }
    return {name: value for name, value in document.items() if value != ""}   # empty values add postings
