"""Every table, imported here so SQLModel.metadata is complete before migrations run."""

from kb.models.access import ApiKey, Role, User, UserCreate, UserPublic, UserUpdate
from kb.models.case import (
    Case,
    CaseCreate,
    CaseFeedback,
    CaseHistory,
    CaseHistoryPublic,
    CasePublic,
    CaseResolve,
    CaseSequence,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    CustomerKind,
    Satisfaction,
)
from kb.models.outbox import SearchOutbox
from kb.models.taxonomy import TAXONOMY_KINDS, Label, LabelCreate, LabelPublic, LabelUpdate

__all__ = [
    "ApiKey",
    "Case",
    "CaseCreate",
    "CaseFeedback",
    "CaseHistory",
    "CaseHistoryPublic",
    "CasePublic",
    "CaseResolve",
    "CaseSequence",
    "CaseStatus",
    "CaseTransition",
    "CaseUpdate",
    "CustomerKind",
    "Label",
    "LabelCreate",
    "LabelPublic",
    "LabelUpdate",
    "Role",
    "SearchOutbox",
    "Satisfaction",
    "TAXONOMY_KINDS",
    "User",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]
