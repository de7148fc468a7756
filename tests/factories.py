"""Plain functions that arrange data through the real use cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session

from kb.cases import service
from kb.clock import FixedClock
from kb.models import Case, CaseCreate, CaseResolve
from tests.conftest import case_payload


def make_case(session: Session, rules: service.CaseRules, *, actor: str = "liwei", **overrides) -> Case:
    return service.create_case(session, CaseCreate.model_validate(case_payload(**overrides)), actor=actor,
                               rules=rules)


def later(rules: service.CaseRules, **delta) -> service.CaseRules:
    return replace(rules, clock=FixedClock(tz=rules.clock.tz, at=rules.clock.now() + timedelta(**delta)))


def make_resolved(session: Session, rules: service.CaseRules, **overrides) -> Case:
    case = make_case(session, rules, **overrides)
    return service.resolve(session, case.number, CaseResolve(
        analysis="坐标未转换为国测局坐标，定位偏移约500米。", root_cause="产品设计缺陷",
        solution_temp="开启高精度定位并为员工补卡。", solution_perm="V2.2 修复坐标转换。",
        result="补卡完成，打卡恢复", fixed_in_version="V2.2"), actor="liwei", rules=later(rules, hours=2))
