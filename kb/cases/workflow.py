"""The status machine: 待处理 → 处理中 → 已解决 → 已关闭; 升级处理 from any open state;
a resolved case can be reopened (back to 处理中), e.g. when the customer is 不满意.
已关闭 is final."""

from __future__ import annotations

from kb.errors import InvalidTransition
from kb.models import CaseStatus as S

OPEN_STATES = frozenset({S.pending, S.in_progress, S.escalated})

TRANSITIONS: dict[S, tuple[S, ...]] = {
    S.pending: (S.in_progress, S.escalated, S.resolved),
    S.in_progress: (S.escalated, S.resolved),
    S.escalated: (S.in_progress, S.resolved),
    S.resolved: (S.closed, S.in_progress),  # → 处理中 is the reopen
    S.closed: (),
}


def allowed_next(current: S) -> tuple[S, ...]:
    return TRANSITIONS[current]


def check_transition(current: S, requested: S) -> None:
    if requested not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, requested.value, [s.value for s in TRANSITIONS[current]])


def is_reopen(current: S, requested: S) -> bool:
    return current == S.resolved and requested in OPEN_STATES
