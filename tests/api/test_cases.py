"""The case routes end to end through HTTP, with the real app and database."""

from __future__ import annotations

from tests.conftest import case_payload


def create(api, **overrides):
    resp = api.post("/api/v1/cases", json=case_payload(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_create_returns_201_location_masked_contact_and_local_times(api):
    resp = api.post("/api/v1/cases", json=case_payload())
    assert resp.status_code == 201
    body = resp.json()
    assert resp.headers["location"] == f"/api/v1/cases/{body['number']}"
    assert body["number"] == "FW20240521001"
    assert body["contact_masked"] == "138****5678" and "contact" not in body
    assert body["received_at"].endswith("+08:00")
    assert body["group"] == "客服主管" and body["created_by"] == "u_agent"
    assert "截止" in body["sla_explanation"]["response"]["text"]


def test_get_list_update_history(api):
    number = create(api)["number"]
    assert api.get(f"/api/v1/cases/{number}", role="analyst").json()["number"] == number
    resp = api.patch(f"/api/v1/cases/{number}", json={"priority": "中", "notes": "客户下午再来电"})
    assert resp.status_code == 200 and resp.json()["priority"] == "中"
    history = api.get(f"/api/v1/cases/{number}/history").json()
    assert [h["action"] for h in history][:1] == ["created"]
    assert {"priority", "notes"} <= {h["field"] for h in history}
    page = api.get("/api/v1/cases", params={"priority": "中", "page_size": 5}).json()
    assert page["total"] == 1 and page["items"][0]["number"] == number


def test_workflow_over_http(api):
    number = create(api)["number"]
    assert api.post(f"/api/v1/cases/{number}/transitions", json={"status": "处理中"}).status_code == 200
    resolved = api.post(f"/api/v1/cases/{number}/resolve", json={
        "analysis": "定位坐标未转换", "root_cause": "产品设计缺陷", "solution_temp": "开启高精度定位并补卡",
        "solution_perm": "V2.2 修复", "result": "已恢复", "fixed_in_version": "V2.2"})
    assert resolved.json()["status"] == "已解决"
    fb = api.post(f"/api/v1/cases/{number}/feedback", json={"satisfaction": "不满意", "nps_score": 3, "reopen": True})
    assert fb.json()["status"] == "处理中" and fb.json()["reopen_count"] == 1


def test_illegal_transition_is_409_naming_both_statuses(api):
    number = create(api)["number"]
    resp = api.post(f"/api/v1/cases/{number}/transitions", json={"status": "已关闭"})
    assert resp.status_code == 409
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert body["current_status"] == "待处理" and body["requested_status"] == "已关闭"
    assert body["errors"][0]["field"] == "status"


def test_list_filters_by_date_range_and_overdue(api):
    create(api, contact_at="2024-05-20T10:00:00+08:00")
    create(api, contact_at="2024-05-21T09:00:00+08:00", priority="低", type="咨询")
    assert api.get("/api/v1/cases", params={"date_from": "2024-05-21"}).json()["total"] == 1
    assert api.get("/api/v1/cases", params={"date_to": "2024-05-20"}).json()["total"] == 1
    assert api.get("/api/v1/cases", params={"overdue": "true"}).json()["total"] == 0   # fixed clock: nothing late yet
    assert api.get("/api/v1/cases", params={"status": ["待处理", "处理中"]}).json()["total"] == 2


def test_unknown_case_is_404_problem(api):
    resp = api.get("/api/v1/cases/FW20990101001")
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "number"


def test_sla_preview_explains_holidays(api):
    resp = api.post("/api/v1/sla/preview", json={"priority": "中", "received_at": "2024-09-30T16:00:00"})
    body = resp.json()
    assert body["response"]["due_at"] == "2024-10-08T16:00:00+08:00"
    assert "国庆节" in body["response"]["explanation"]["text"]
    assert api.get("/api/v1/sla/policy").json()["priority"]["高"]["response"]["hours"] == 4


def test_the_work_calendar_of_a_year_lists_holidays_and_makeup_days(api):
    body = api.get("/api/v1/sla/calendar", params={"year": 2024}, role="analyst").json()
    holidays = {d["date"]: d["reason"] for d in body["holidays"]}
    makeup = {d["date"]: d["reason"] for d in body["makeup_workdays"]}
    assert body["year"] == 2024 and body["estimated"] is False
    assert holidays["2024-10-01"] == "国庆节" and holidays["2024-02-12"] == "春节"
    assert "调休" in makeup["2024-09-29"] and "调休" in makeup["2024-10-12"]   # the Sunday and Saturday worked
    assert "2024-10-05" in holidays                                          # a weekend inside the holiday
    assert body["workdays"] == 251                                           # the State Council's 2024 schedule
    for bad in ("1999", "3000", "abc"):
        resp = api.get("/api/v1/sla/calendar", params={"year": bad})
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "year"
