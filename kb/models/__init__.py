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
    CaseImport,
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
from kb.models.dictionary import DictionaryTerm, DictionaryTermCreate, DictionaryTermPublic
from kb.models.ml import ModelPromotion, ModelVersion, SuggestionLog, TrainingJob
from kb.models.outbox import IndexReplica, SearchOutbox
from kb.models.taxonomy import TAXONOMY_KINDS, Label, LabelCreate, LabelPublic, LabelUpdate

__all__ = [
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
    "CaseImport",
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
    "DictionaryTerm",
    "DictionaryTermCreate",
    "DictionaryTermPublic",
    "Label",
    "LabelCreate",
    "LabelPublic",
    "LabelUpdate",
    "ModelPromotion",
    "ModelVersion",
    "Role",
    "Satisfaction",
    "SearchOutbox",
    "IndexReplica",
    "SuggestionLog",
    "TrainingJob",
    "User",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]
