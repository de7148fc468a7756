"""Every legal and every illegal status transition."""

from __future__ import annotations

import itertools

import pytest

from kb.cases.workflow import TRANSITIONS, check_transition
from kb.errors import InvalidTransition
from kb.models import CaseStatus as S

LEGAL = {(a, b) for a, nexts in TRANSITIONS.items() for b in nexts}
ALL = list(itertools.product(S, S))


@pytest.mark.parametrize(("current", "requested"), sorted(LEGAL, key=str))
def test_legal_transition_passes(current, requested):
    check_transition(current, requested)


@pytest.mark.parametrize(("current", "requested"), [p for p in ALL if p not in LEGAL])
def test_illegal_transition_names_both_states(current, requested):
    with pytest.raises(InvalidTransition) as err:
        check_transition(current, requested)
    assert err.value.extra["current_status"] == current.value
    assert err.value.extra["requested_status"] == requested.value
    assert current.value in err.value.message and requested.value in err.value.message


def test_the_expected_shape_of_the_machine():
    assert S.escalated in TRANSITIONS[S.pending] and S.escalated in TRANSITIONS[S.in_progress]
    assert S.in_progress in TRANSITIONS[S.resolved]      # reopen
    assert TRANSITIONS[S.closed] == ()                  # closed is final
