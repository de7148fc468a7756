"""用这个方案: using a suggested case's or article's solution records the link (rank as shown,
model version), refuses what was not shown or may not be seen, and the reports measure
suggestion quality from it."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from kb.db import make_session
from kb.models import Case, Role, SolutionUse
from tests.api.test_articles import create, publish
from tests.conftest import case_payload, wait_for

KM = Role.knowledge_manager
DRAFT = {"subject": "打卡提示不在范围", "description": "员工打卡一直提示不在考勤范围内，报错E1024，要求处理"}
FIXES = [("开启高精度定位后重新打卡，管理员批量补卡", "定位坐标未转换"),
         ("清除App缓存并重新登录后打卡，仍失败则上报定位日志", "App缓存了旧的围栏数据")]


def resolved(api, solution: str, analysis: str, **overrides) -> str:
    number = api.post("/api/v1/cases", json=case_payload(**overrides)).json()["number"]
    resp = api.post(f"/api/v1/cases/{number}/resolve", json={
        "analysis": analysis, "root_cause": "产品设计缺陷", "solution_temp": solution, "result": "已恢复"})
    assert resp.status_code == 200, resp.text
    return number


@pytest.fixture
def shown(api_model):
    """Two resolved attendance cases, and a suggestion that shows both."""
    numbers = [resolved(api_model, s, a, description=f"员工用App打卡提示不在考勤范围内，错误码E1024。{a}")
               for s, a in FIXES]

    def both():
        body = api_model.post("/api/v1/suggestions", json=DRAFT).json()
        listed = [c["number"] for c in body["similar_cases"]]
        return body if set(numbers) <= set(listed) else None

    body = wait_for(both)
    assert body, "the resolved cases were never suggested"
    return body


def cases_count(api) -> int:
    with make_session(api.engine) as s:
        return s.exec(select(func.count()).select_from(Case)).one()


def test_logging_with_a_used_solution_records_it_at_the_rank_it_was_shown(api_model, shown):
    listed = [c["number"] for c in shown["similar_cases"]]
    second = shown["similar_cases"][1]
    resp = api_model.post("/api/v1/cases", json=case_payload(
        subject=DRAFT["subject"], description=DRAFT["description"], suggestion_id=shown["suggestion_id"],
        solution_temp=second["solution_temp"], used_solutions=[{"case": second["number"]}]))
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["solution_temp"] == second["solution_temp"] and new["status"] == "待处理"
    [use] = api_model.get(f"/api/v1/cases/{new['number']}/solution-uses").json()
    assert use["case"] == second["number"] and use["source_kind"] == "case" and use["place"] == "workspace"
    assert use["rank"] == 2 and use["shown"] == len(listed)
    assert use["model_version"] == api_model.model_version
    with make_session(api_model.engine) as s:              # the generation that answered the suggestion
        [row] = s.exec(select(SolutionUse)).all()
    assert row.index_generation == api_model.client.app.state.index.current_generation() is not None


def test_a_rank_other_than_the_one_shown_is_refused_and_nothing_is_saved(api_model, shown):
    before = cases_count(api_model)
    resp = api_model.post("/api/v1/cases", json=case_payload(
        suggestion_id=shown["suggestion_id"], used_solutions=[{"case": shown["similar_cases"][1]["number"], "rank": 1}]))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "used_solutions.0.rank"
    assert cases_count(api_model) == before


def test_a_case_that_was_not_shown_cannot_be_claimed_from_that_suggestion(api_model, shown):
    other = resolved(api_model, "重启门锁并重新绑定", "蓝牙握手超时", subject="门锁蓝牙连不上", description="门锁App搜不到设备")
    number = api_model.post("/api/v1/cases", json=case_payload()).json()["number"]
    resp = api_model.post(f"/api/v1/cases/{number}/solution-uses",
                          json={"case": other, "suggestion_id": shown["suggestion_id"]})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "case"
    with make_session(api_model.engine) as s:
        assert s.exec(select(func.count()).select_from(SolutionUse)).one() == 0


def test_on_the_case_page_an_article_the_agent_may_not_read_is_refused(api_model):
    secret = publish(api_model, create(api_model, title="内部：定位服务降级预案", body="仅技术团队：切换定位服务商",
                                       audience="仅技术团队"))
    public = publish(api_model, create(api_model, title="打卡定位失败怎么办", body="开启高精度定位，允许后台定位"))
    number = api_model.post("/api/v1/cases", json=case_payload()).json()["number"]
    hidden = api_model.post(f"/api/v1/cases/{number}/solution-uses", json={"article": secret["id"]})
    assert hidden.status_code == 422 and hidden.json()["errors"][0]["field"] == "article"
    assert "没有查看权限" in hidden.json()["errors"][0]["message"]
    first = api_model.post(f"/api/v1/cases/{number}/solution-uses", json={"article": public["id"]})
    again = api_model.post(f"/api/v1/cases/{number}/solution-uses", json={"article": public["id"]})
    assert first.status_code == again.status_code == 201
    uses = api_model.get(f"/api/v1/cases/{number}/solution-uses").json()
    assert [(u["article"], u["place"], u["rank"]) for u in uses] == [(public["id"], "case", None)]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "case"),
    ({"case": "FW20240521001", "article": 1}, "case"),
    ({"case": None, "article": None}, "case"),
    ({"article": 0}, "article"),
    ({"article": 2**31}, "article"),
    ({"case": "FW20240521001", "rank": 0}, "rank"),
    ({"case": "FW20240521001", "rank": 101}, "rank"),
    ({"case": "FW20240521001", "rank": "1"}, "rank"),
    ({"case": "FW\u0000001"}, "case"),
    ({"case": "FW20240521001", "suggestion_id": "short"}, "suggestion_id"),
    ({"case": "FW20240521001", "extra": 1}, "extra"),
])
def test_bad_input_names_the_field(api_model, body, field):
    number = api_model.post("/api/v1/cases", json=case_payload()).json()["number"]
    resp = api_model.post(f"/api/v1/cases/{number}/solution-uses", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == field


def test_a_case_cannot_use_its_own_solution_and_unknown_cases_are_404(api_model):
    number = resolved(api_model, "重新安装驱动", "驱动被禁用")
    api_model.post(f"/api/v1/cases/{number}/transitions", json={"status": "处理中"})
    own = api_model.post(f"/api/v1/cases/{number}/solution-uses", json={"case": number})
    assert own.status_code == 422 and own.json()["errors"][0]["field"] == "case"
    assert api_model.post("/api/v1/cases/FW20990101999/solution-uses", json={"case": number}).status_code == 404


def test_reports_measure_share_and_mrr_from_use(api_model, shown):
    second = shown["similar_cases"][1]
    used = api_model.post("/api/v1/cases", json=case_payload(
        suggestion_id=shown["suggestion_id"], used_solutions=[{"case": second["number"]}])).json()["number"]
    api_model.post(f"/api/v1/cases/{used}/resolve", json={"solution_temp": second["solution_temp"], "result": "已恢复"})
    plain = api_model.post("/api/v1/cases", json=case_payload()).json()["number"]
    api_model.post(f"/api/v1/cases/{plain}/resolve", json={"solution_temp": "另行处理", "result": "已恢复"})
    body = api_model.get("/api/v1/reports/solution-use?date_from=2024-05-21&date_to=2024-05-21", role="analyst").json()
    # resolved that day: the two fixture cases, the one that used rank 2, and one without a suggestion
    assert body["all"] == {"resolved": 4, "used": 1, "share": 0.25, "mrr": 0.5, "ranked": 1,
                           "from_cases": 1, "from_articles": 0}
    [version] = body["versions"]
    assert version["version"] == api_model.model_version
    assert (version["resolved"], version["used"], version["share"], version["mrr"]) == (1, 1, 1.0, 0.5)
    csv_body = api_model.get("/api/v1/reports/solution-use?date_from=2024-05-21&date_to=2024-05-21&format=csv",
                             role="analyst").content.decode("utf-8-sig")
    assert csv_body.splitlines()[0].startswith("模型版本,已解决问题,采用建议方案,采用率,采用位次 MRR")
    assert api_model.get("/api/v1/reports/solution-use").status_code == 403          # agents do not read reports
