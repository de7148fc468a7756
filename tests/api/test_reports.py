"""Reports over cases replayed at known times: every figure checked by hand, on each backend,
as JSON and as CSV."""

from __future__ import annotations

import csv
import io

import pytest

from kb.db import make_session
from kb.demo import replay_case
from tests.conftest import case_payload

RANGE = "date_from=2024-05-06&date_to=2024-05-19&granularity=week"


def _row(at: str, type_: str, priority: str, channel: str, subject: str, description: str, **extra) -> dict:
    return {"contact_at": at, "channel": channel, "customer_name": "测试客户", "subject": subject,
            "description": description, "type": type_, "priority": priority, **extra}


CASES = [
    _row("2024-05-06T10:00", "投诉", "高", "电话", "考勤打卡定位失败", "打卡提示不在考勤范围内 错误码E1024",
         status="已解决", resolved_after_minutes=120, result="已修复", solution_temp="重新校准定位",
         satisfaction="满意", nps_score=10),
    _row("2024-05-07T10:00", "咨询", "中", "在线客服", "考勤打卡定位失败", "员工打卡定位失败 E1024 不在考勤范围",
         status="已解决", resolved_after_minutes=7200, result="已处理", solution_temp="关闭省电模式",
         satisfaction="不满意", nps_score=3),
    _row("2024-05-13T10:00", "咨询", "中", "电话", "考勤打卡定位失败", "考勤打卡一直定位失败 错误码E1024",
         status="已解决", resolved_after_minutes=60, result="已处理", solution_temp="开启定位权限",
         satisfaction="基本满意", nps_score=8),
    _row("2024-05-14T10:00", "变更", "低", "邮件", "变更发票抬头", "公司更名，申请变更发票抬头与税号"),
    _row("2024-04-01T10:00", "投诉", "高", "电话", "范围之外", "这一条不在报表时间范围内"),
]


@pytest.fixture
def reported(api, rules):
    with make_session(api.engine, write=True) as s:
        for row in CASES:
            replay_case(s, row, rules)
    return api


def test_volumes_by_type_priority_and_channel_per_week(reported):
    body = reported.get(f"/api/v1/reports/volumes?{RANGE}", role="analyst").json()
    assert body["periods"] == ["2024-05-06", "2024-05-13"] and body["total"] == 4
    assert body["per_period"] == [2, 2]
    assert body["series"]["type"] == {"投诉": [1, 0], "咨询": [1, 1], "变更": [0, 1]}
    assert body["totals"]["channel"] == {"电话": 2, "在线客服": 1, "邮件": 1}


def test_sla_attainment_overdue_and_median_times(reported):
    body = reported.get(f"/api/v1/reports/sla?{RANGE}", role="admin").json()
    overall = body["overall"]
    # responses: three came 30 min after logging (in time); the 低 case never got one and its
    # 3-working-day response time passed before "now" (2024-05-21 09:30)
    assert (overall["response_met"], overall["response_missed"], overall["response_rate"]) == (3, 1, 0.75)
    # resolution: 2 h (高, 24 h target) met; 5 days (中, 3 working days) missed; 1 h met; 低 has no target
    assert (overall["resolution_met"], overall["resolution_missed"]) == (2, 1)
    assert overall["overdue"] == 1 and body["overdue_cases"][0]["subject"] == "变更发票抬头"
    assert body["by_priority"]["中"]["resolution_rate"] == 0.5
    assert body["resolution_series"] == {"met": [1, 1], "missed": [1, 0], "rate": [0.5, 1.0]}
    assert overall["median_resolution_hours"] == pytest.approx(2.0, abs=0.1)


def test_csat_shares_and_nps(reported):
    sat = reported.get(f"/api/v1/reports/satisfaction?{RANGE}", role="analyst").json()
    assert sat["rated"] == 3 and sat["counts"] == {"满意": 1, "基本满意": 1, "不满意": 1}
    assert sat["csat"] == pytest.approx(0.3333, abs=1e-4) and sat["csat_series"] == [0.5, 0.0]
    nps = reported.get(f"/api/v1/reports/nps?{RANGE}", role="analyst").json()
    assert (nps["promoters"], nps["passives"], nps["detractors"], nps["nps"]) == (1, 1, 1, 0.0)
    assert nps["nps_series"] == [0.0, 0.0]


def test_top_problems_group_the_same_problem_with_its_trend(reported, segmenter):
    body = reported.get(f"/api/v1/reports/top-problems?{RANGE}", role="analyst").json()
    top = body["problems"][0]
    assert top["count"] == 3 and top["title"] == "考勤打卡定位失败"
    assert top["series"] == [2, 1] and top["first_half"] == 2 and top["trend"] == -1


def test_csv_is_the_same_table(reported):
    resp = reported.get(f"/api/v1/reports/satisfaction?{RANGE}&format=csv", role="analyst")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时段", "满意", "基本满意", "不满意"]
    assert rows[-1] == ["合计", "1", "1", "1", "3", "0.3333"]
    sla_rows = list(csv.reader(io.StringIO(
        reported.get(f"/api/v1/reports/sla?{RANGE}&format=csv", role="analyst").content.decode("utf-8-sig"))))
    assert sla_rows[-1][0] == "合计" and sla_rows[-1][1] == "4"


def test_acceptance_per_model_version(api_model):
    sug = api_model.post("/api/v1/classify", json={"subject": "考勤打卡失败",
                                                   "description": "员工打卡提示不在范围内，要求撤销迟到记录"}).json()
    other = "低" if sug["priority"]["label"] != "低" else "中"
    api_model.post("/api/v1/cases", json=case_payload(type=sug["type"]["label"], priority=other,
                                                     suggestion_id=sug["suggestion_id"]))
    body = api_model.get("/api/v1/reports/acceptance?date_from=2024-05-21&date_to=2024-05-21", role="analyst").json()
    assert body["versions"] == [{"version": api_model.model_version, "type_shown": 1, "type_accepted": 1,
                                 "type_rate": 1.0, "priority_shown": 1, "priority_accepted": 0,
                                 "priority_rate": 0.0}]


def test_bad_ranges_and_roles(api):
    bad = api.get("/api/v1/reports/volumes?date_from=2024-06-01&date_to=2024-05-01", role="analyst")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date_from"
    assert api.get("/api/v1/reports/volumes?granularity=year", role="analyst").status_code == 422
    assert api.get("/api/v1/reports/volumes?date_from=2020-01-01&date_to=2024-01-01", role="analyst").status_code == 422
    assert api.get("/api/v1/reports/volumes", role="agent").status_code == 403
    empty = api.get("/api/v1/reports/sla", role="analyst").json()
    assert empty["overall"] is None and len(empty["periods"]) == 14   # 90 days by week: 2024-02-22 (Thu) … 2024-05-21


def test_top_problems_with_titles_differing_in_a_function_word_are_one_problem():
    from classifier.clusters import Cluster
    from kb.text.titles import merge_same_titles

    titles = ["会员积分没到账", "会员积分没有到账", "积分没有到账", "发票抬头开错了", "会员积分没到账了", "发票抬头错了"]
    clusters = [Cluster(members=[0, 4], top_terms=["积分", "到账"]), Cluster(members=[3], top_terms=["发票", "抬头"]),
                Cluster(members=[1, 2], top_terms=["积分", "会员"]), Cluster(members=[5], top_terms=["抬头"])]
    merged = merge_same_titles(clusters, titles)
    assert [sorted(c.members) for c in merged] == [[0, 1, 2, 4], [3, 5]]
    assert merged[0].top_terms == ["积分", "到账", "会员"]
    assert merge_same_titles([], titles) == []


def test_different_problems_with_similar_words_stay_apart():
    from classifier.clusters import Cluster
    from kb.text.titles import merge_same_titles

    titles = ["发票金额开错", "发票抬头开错", "打印机不出纸", "打印机卡纸"]
    clusters = [Cluster(members=[i], top_terms=[]) for i in range(4)]
    assert len(merge_same_titles(clusters, titles)) == 4
