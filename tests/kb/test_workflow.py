"""Every legal and every illegal status transition, against the table written out from
../shared/DOMAIN.md (not from the implementation's own table):

    待处理 → 处理中 → 已解决 → 已关闭; 升级处理 from any open state;
    a dissatisfied customer reopens a resolved case.

Decisions the domain leaves open, stated here and in docs/operations.md: a case answered on
first contact may go 待处理 → 已解决 directly (一次解决); an escalated case goes back to
处理中 or is resolved; a reopen returns to 处理中; 已关闭 is final."""

from __future__ import annotations

import itertools

import pytest

from kb.cases.workflow import allowed_next, check_transition
from kb.errors import InvalidTransition
from kb.models import CaseStatus as S

# written out by hand, one line per rule
LEGAL = {
    ("待处理", "处理中"),   # the main path
    ("处理中", "已解决"),
    ("已解决", "已关闭"),
    ("待处理", "升级处理"),  # escalation from any open state
    ("处理中", "升级处理"),
    ("升级处理", "处理中"),  # escalated work is taken up again…
    ("升级处理", "已解决"),  # …or resolved
    ("已解决", "处理中"),   # reopen (客户不满意)
    ("待处理", "已解决"),   # first-contact resolution (一次解决)
}
STATES = ["待处理", "处理中", "升级处理", "已解决", "已关闭"]
ALL = list(itertools.product(STATES, STATES))


def test_the_states_are_the_domains_five():
    assert sorted(s.value for s in S) == sorted(STATES)


@pytest.mark.parametrize(("current", "requested"), sorted(LEGAL))
def test_legal_transition_passes(current, requested):
    check_transition(S(current), S(requested))


@pytest.mark.parametrize(("current", "requested"), [p for p in ALL if p not in LEGAL])
def test_illegal_transition_names_both_states(current, requested):
    with pytest.raises(InvalidTransition) as err:
        check_transition(S(current), S(requested))
    assert err.value.extra["current_status"] == current
    assert err.value.extra["requested_status"] == requested
    assert current in err.value.message and requested in err.value.message


@pytest.mark.parametrize("state", STATES)
def test_the_allowed_list_shown_to_users_is_the_table(state):
    assert {s.value for s in allowed_next(S(state))} == {b for a, b in LEGAL if a == state}
