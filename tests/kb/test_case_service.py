"""Case use cases against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from sqlmodel import func, select

from kb.cases import queries, service
from kb.errors import Conflict, FieldError, InvalidTransition, NotFound
from kb.models import (
    Case,
    CaseFeedback,
    CaseHistory,
    CaseResolve,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    SearchOutbox,
)
from tests.conftest import T0
from tests.factories import later, make_case, make_resolved


def counts(session) -> tuple[int, int, int]:
    return tuple(session.exec(select(func.count()).select_from(t)).one() for t in (Case, CaseHistory, SearchOutbox))


class TestCreate:
    def test_masks_contact_redacts_text_routes_and_sets_sla(self, session, rules):
        case = make_case(session, rules)
        assert case.contact_masked == "138****5678"
        assert "13912345678" not in case.description and "[手机号]" in case.description
        assert "E1024" in case.description and "V2.1" in case.description
        assert case.group == "客服主管"                           # 投诉 → 客服主管
        assert case.status == CaseStatus.pending
        assert case.response_due_at == T0.replace(hour=13, minute=30)   # 高: 4 calendar hours
        assert case.sla_explanation["response"]["text"]

    def test_writes_history_and_outbox_in_the_same_commit(self, session, rules):
        case = make_case(session, rules, actor="wangfang")
        history = queries.get_history(session, case.number)
        assert [(h.action, h.actor) for h in history] == [("created", "wangfang")]
        assert session.exec(select(SearchOutbox).where(SearchOutbox.entity_id == case.id)).one().entity == "case"

    @pytest.mark.parametrize(("field", "value"), [("type", "咨讯"), ("priority", "P9"), ("channel", "飞鸽传书"),
                                                  ("emotion", "开心"), ("owner", "nobody")])
    def test_unknown_codes_are_field_errors_and_store_nothing(self, session, rules, field, value):
        before = counts(session)
        with pytest.raises(FieldError) as err:
            make_case(session, rules, **{field: value})
        assert err.value.field == field
        session.rollback()
        assert counts(session) == before

    def test_codes_and_routing_group_are_read_in_one_statement(self, session, rules):
        # a creation read every label row of each kind it checks, one query per kind, and the
        # type's label once more for its group: a fifth of a creation's time on PostgreSQL
        from sqlalchemy import event

        engine, statements = session.get_bind(), []

        def record(conn, cursor, statement, parameters, context, executemany):
            if re.search(r"\sFROM label\b", statement):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            case = make_case(session, rules)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert case.group == "客服主管"
        assert len(statements) == 1, statements

    def test_deactivated_type_is_refused(self, session, rules):
        from kb.models import LabelUpdate
        from kb.taxonomy import update_label

        update_label(session, "type", "其他", LabelUpdate(active=False))
        with pytest.raises(FieldError):
            make_case(session, rules, type="其他")

    def test_names_masked_for_individuals_when_configured(self, session, rules):
        from dataclasses import replace

        case = make_case(session, replace(rules, mask_individual_names=True), customer_name="张三",
                         customer_kind="个人客户")
        assert case.customer_name == "张*"


class TestUpdate:
    def test_each_changed_field_is_one_history_row(self, session, rules):
        case = make_case(session, rules)
        service.update_case(session, case.number, CaseUpdate(subject="外勤打卡失败", tags=["考勤"]),
                            actor="zhangmin", rules=later(rules, minutes=5))
        rows = [h for h in queries.get_history(session, case.number) if h.action == "updated"]
        assert {(h.field, h.old_value, h.new_value) for h in rows} == {
            ("subject", "考勤打卡定位失败", "外勤打卡失败"), ("tags", "考勤、E1024", "考勤")}
        assert all(h.actor == "zhangmin" for h in rows)

    def test_unchanged_values_write_no_history(self, session, rules):
        case = make_case(session, rules)
        before = counts(session)
        service.update_case(session, case.number, CaseUpdate(subject=case.subject), actor="x", rules=rules)
        assert counts(session) == before

    def test_type_change_reroutes_and_priority_change_recomputes_sla(self, session, rules):
        case = make_case(session, rules)
        case = service.update_case(session, case.number, CaseUpdate(type="变更", priority="中"), actor="x",
                                   rules=rules)
        assert case.group == "业务办理组"
        assert case.sla_explanation["priority"] == "中"
        assert case.response_due_at == T0.replace(day=22)      # 1 working day of business time

    def test_required_field_cannot_be_nulled(self, session, rules):
        with pytest.raises(ValidationError) as invalid:           # the request shape refuses an explicit null…
            CaseUpdate.model_validate({"subject": None})
        assert invalid.value.errors()[0]["loc"] == ("subject",)
        case = make_case(session, rules)
        with pytest.raises(FieldError) as err:                     # …and the use case does too (defence in depth)
            service.update_case(session, case.number, CaseUpdate.model_construct(subject=None, _fields_set={"subject"}),
                                actor="x", rules=rules)
        assert err.value.field == "subject"

    def test_closed_case_is_read_only(self, session, rules):
        case = make_resolved(session, rules)
        service.transition(session, case.number, CaseTransition(status=CaseStatus.closed), actor="x", rules=rules)
        with pytest.raises(Conflict):
            service.update_case(session, case.number, CaseUpdate(notes="补充"), actor="x", rules=rules)

    def test_unknown_number(self, session, rules):
        with pytest.raises(NotFound):
            service.update_case(session, "FW20990101001", CaseUpdate(notes="x"), actor="x", rules=rules)


class TestWorkflow:
    def test_full_life_cycle_with_history(self, session, rules):
        case = make_case(session, rules)
        n = case.number
        service.transition(session, n, CaseTransition(status=CaseStatus.in_progress), actor="a", rules=later(rules, minutes=10))
        service.transition(session, n, CaseTransition(status=CaseStatus.escalated, note="需要研发排查"), actor="a",
                           rules=later(rules, minutes=20))
        case = service.resolve(session, n, CaseResolve(solution_temp="补卡", result="已处理", root_cause="产品设计缺陷"),
                               actor="b", rules=later(rules, hours=3))
        assert case.first_response_at == T0.replace(minute=40)
        assert case.resolved_at == T0.replace(hour=12, minute=30)
        case = service.transition(session, n, CaseTransition(status=CaseStatus.closed), actor="b", rules=later(rules, days=1))
        assert case.closed_at is not None
        statuses = [(h.old_value, h.new_value) for h in queries.get_history(session, n) if h.field == "status"]
        assert statuses == [("待处理", "处理中"), ("处理中", "升级处理"), ("升级处理", "已解决"), ("已解决", "已关闭")]

    def test_illegal_transition_is_conflict_and_changes_nothing(self, session, rules):
        case = make_case(session, rules)
        before = counts(session)
        with pytest.raises(InvalidTransition) as err:
            service.transition(session, case.number, CaseTransition(status=CaseStatus.closed), actor="a", rules=rules)
        assert err.value.extra["current_status"] == "待处理"
        session.rollback()
        assert counts(session) == before

    def test_resolved_via_transition_needs_a_solution(self, session, rules):
        case = make_case(session, rules)
        with pytest.raises(FieldError):
            service.transition(session, case.number, CaseTransition(status=CaseStatus.resolved), actor="a", rules=rules)

    def test_resolve_needs_a_temporary_or_permanent_solution(self, session, rules):
        case = make_case(session, rules)
        with pytest.raises(FieldError) as err:
            service.resolve(session, case.number, CaseResolve(result="done"), actor="a", rules=rules)
        assert err.value.field == "solution_temp"

    def test_resolution_text_is_redacted(self, session, rules):
        case = make_case(session, rules)
        case = service.resolve(session, case.number, CaseResolve(solution_temp="已致电 13812345678 指导",
                                                                  result="ok"), actor="a", rules=rules)
        assert case.solution_temp == "已致电 [手机号] 指导"


class TestFeedback:
    def test_satisfaction_and_nps_are_recorded(self, session, rules):
        case = make_resolved(session, rules)
        case = service.record_feedback(session, case.number, CaseFeedback(satisfaction="满意", nps_score=9,
                                       feedback="处理很快"), actor="a", rules=rules)
        assert (case.satisfaction.value, case.nps_score, case.status) == ("满意", 9, CaseStatus.resolved)

    def test_score_maps_to_satisfaction(self, session, rules):
        case = make_resolved(session, rules)
        case = service.record_feedback(session, case.number, CaseFeedback(satisfaction_score=2), actor="a", rules=rules)
        assert case.satisfaction.value == "不满意"

    def test_dissatisfied_customer_reopens(self, session, rules):
        case = make_resolved(session, rules)
        case = service.record_feedback(session, case.number, CaseFeedback(satisfaction="不满意", reopen=True,
                                       feedback="问题又出现了"), actor="a", rules=rules)
        assert case.status == CaseStatus.in_progress and case.reopen_count == 1 and case.resolved_at is None
        assert any(h.action == "reopened" for h in queries.get_history(session, case.number))

    def test_feedback_on_open_case_is_conflict(self, session, rules):
        case = make_case(session, rules)
        with pytest.raises(Conflict):
            service.record_feedback(session, case.number, CaseFeedback(satisfaction="满意"), actor="a", rules=rules)


class TestQueries:
    def test_filters_paging_and_overdue(self, session, rules):
        a = make_case(session, rules)                                     # 高, 投诉
        make_case(session, rules, type="咨询", priority="低", channel="邮件")
        make_resolved(session, rules, priority="中")
        now = later(rules, days=2).clock.now()
        rows, total = queries.list_cases(session, queries.CaseFilter(overdue=True), now=now)
        assert [r.number for r in rows] == [a.number] and total == 1       # 高 overdue after 24 h
        rows, total = queries.list_cases(session, queries.CaseFilter(channel="邮件"), now=now)
        assert total == 1 and rows[0].type == "咨询"
        rows, total = queries.list_cases(session, queries.CaseFilter(status=[CaseStatus.resolved]), now=now)
        assert total == 1
        rows, total = queries.list_cases(session, queries.CaseFilter(), now=now, offset=1, limit=1)
        assert total == 3 and len(rows) == 1
        assert queries.is_overdue(a, now) and not queries.is_overdue(a, T0)
