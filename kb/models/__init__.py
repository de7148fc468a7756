"""Every table, imported here so SQLModel.metadata is complete before migrations run."""

from kb.models.access import ApiKey, Role, User, UserCreate, UserPublic, UserUpdate
from kb.models.article import (
    Article,
    ArticleCaseLink,
    ArticleFeedback,
    ArticleState,
    ArticleVersion,
    Audience,
)
from kb.models.case import (
    Case,
    CaseCreate,
    CaseFeedback,
    CaseHistory,
    CaseHistoryPublic,
    CaseImport,
    CasePublic,
    CaseResolve,
    CaseSequence,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    CustomerKind,
    Satisfaction,
)
from kb.models.dictionary import DictionaryTerm, DictionaryTermCreate, DictionaryTermPublic
from kb.models.jobs import Job, JobInput, JobKind
from kb.models.ml import ModelArtifact, ModelPromotion, ModelVersion, SuggestionLog
from kb.models.outbox import IndexReplica, SearchOutbox
from kb.models.taxonomy import TAXONOMY_KINDS, Label, LabelCreate, LabelPublic, LabelUpdate

__all__ = [
    "Job",
    "JobInput",
    "JobKind",
    "TAXONOMY_KINDS",
    "ApiKey",
    "Article",
    "ArticleCaseLink",
    "ArticleFeedback",
    "ArticleState",
    "ArticleVersion",
    "Audience",
    "Case",
    "CaseCreate",
    "CaseFeedback",
    "CaseHistory",
    "CaseHistoryPublic",
    "CaseImport",
    "CasePublic",
    "CaseResolve",
    "CaseSequence",
    "CaseStatus",
    "CaseTransition",
    "CaseUpdate",
    "CustomerKind",
    "DictionaryTerm",
    "DictionaryTermCreate",
    "DictionaryTermPublic",
    "IndexReplica",
    "Label",
    "LabelCreate",
    "LabelPublic",
    "LabelUpdate",
    "ModelArtifact",
    "ModelPromotion",
    "ModelVersion",
    "Role",
    "Satisfaction",
    "SearchOutbox",
    "SuggestionLog",
    "User",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]
