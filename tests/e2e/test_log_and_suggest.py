"""End to end through HTTP with the embedded index writer: log → resolve → a paraphrase
finds it, with the solution, highlights and the model version logged.

How fast a resolved case becomes suggestible is a figure of `bench/index_freshness.py`, not
of this test: on a loaded 2-core CI box a timed assertion fails for noise, not for a defect."""

from __future__ import annotations

from sqlmodel import select

from kb.db import make_session
from kb.models import SuggestionLog
from tests.conftest import case_payload, wait_for

RESOLUTION = {"analysis": "定位坐标未转换为国测局坐标，偏移约500米", "root_cause": "产品设计缺陷",
              "solution_temp": "开启高精度定位并为员工补卡", "solution_perm": "V2.2 修复坐标转换",
              "result": "补卡完成，打卡恢复", "fixed_in_version": "V2.2"}



def _logged(engine, suggestion_id: str) -> SuggestionLog | None:
    with make_session(engine) as s:
        return s.get(SuggestionLog, suggestion_id)


def test_create_resolve_then_suggest_returns_it_with_its_solution(api_model):
    number = api_model.post("/api/v1/cases", json=case_payload(
        subject="考勤打卡定位失败", description="員工用App打卡一直提示不在考勤範圍內，錯誤碼E1024")).json()["number"]
    assert api_model.post(f"/api/v1/cases/{number}/resolve", json=RESOLUTION).status_code == 200
    draft = {"subject": "打卡失败", "description": "员工打卡时总提示不在考勤范围，报错E1024"}

    def found():
        body = api_model.post("/api/v1/suggestions", json=draft).json()
        return body if any(c["number"] == number for c in body["similar_cases"]) else None

    body = wait_for(found)
    assert body, "resolved case never suggested"
    hit = next(c for c in body["similar_cases"] if c["number"] == number)
    assert hit["solution_temp"] == RESOLUTION["solution_temp"] and hit["fixed_in_version"] == "V2.2"
    assert "<mark>" in hit["highlights"]["description"] and "範圍" in hit["highlights"]["description"]
    assert body["model_version"] == api_model.model_version and body["type"]["label"]
    assert body["articles"] == [] and body["missing"] == []
    log = wait_for(lambda: _logged(api_model.engine, body["suggestion_id"]))
    assert log is not None, "the suggestion's row was never written"
    assert log.model_version == api_model.model_version and number in log.details["similar_cases"]


def test_open_cases_are_never_suggested(api_model):
    number = api_model.post("/api/v1/cases", json=case_payload(subject="门锁蓝牙开锁失败",
                                                               description="蓝牙一直搜不到门锁 E3007")).json()["number"]
    # a resolved twin logged after it: once the index writer has applied the twin, it has applied
    # the open case's change too (one writer, in order), so its absence then is meaningful
    twin = api_model.post("/api/v1/cases", json=case_payload(subject="门锁蓝牙开锁失败",
                                                             description="蓝牙一直搜不到门锁 E3007")).json()["number"]
    assert api_model.post(f"/api/v1/cases/{twin}/resolve", json=RESOLUTION).status_code == 200

    def shown():
        body = api_model.post("/api/v1/suggestions", json={"description": "门锁蓝牙开锁失败 E3007"}).json()
        return [c["number"] for c in body["similar_cases"]]

    assert wait_for(lambda: twin in shown()), "the resolved twin never reached the index"
    assert number not in shown()


def test_search_with_filters_paging_and_highlights(api_model):
    for i, desc in enumerate(["小票打印机不出纸 V5.3", "小票打印乱码 V5.3", "会员积分没到账"]):
        n = api_model.post("/api/v1/cases", json=case_payload(subject=f"收银问题{i}", description=desc,
                                                             type="咨询" if i else "投诉")).json()["number"]
        api_model.post(f"/api/v1/cases/{n}/resolve", json=RESOLUTION)
    found = wait_for(lambda: api_model.get("/api/v1/search", params={"q": "小票打印"}).json()["total"] == 2)
    assert found
    body = api_model.get("/api/v1/search", params={"q": "小票打印", "type": "咨询"}).json()
    assert body["total"] == 1 and "<mark>" in body["items"][0]["highlights"]["description"]
    page2 = api_model.get("/api/v1/search", params={"q": "小票打印", "page": 2, "page_size": 1}).json()
    assert page2["total"] == 2 and len(page2["items"]) == 1
    assert api_model.get("/api/v1/search", params={"q": "v5.3"}).json()["total"] == 2


def test_health_shows_the_index(api_model):
    body = wait_for(lambda: (b := api_model.get("/health", role="admin").json())["index"]["documents"] is not None and b)
    assert body["index"]["generation"] and body["index"]["writer_here"] is True
    assert body["index"]["meta"]["text_version"] == body["text"]["version"]


def test_bad_search_input_is_a_problem(api_model):
    resp = api_model.get("/api/v1/search", params={"q": ""})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "q"
    resp = api_model.post("/api/v1/suggestions", json={"subject": "x" * 300, "description": "d"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "subject"


def test_without_an_index_suggestions_still_answer_and_say_so(db_url, tmp_path, clock):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from kb.models import Role
    from kb.settings import Settings
    from tests.conftest import DATA_DIR, add_user

    app = create_app(Settings(data_dir=DATA_DIR, var_dir=tmp_path / "var", database_url=db_url,
                              embedded_indexer=False), clock=clock)
    with TestClient(app) as client:
        key = add_user(app.state.engine, "agent_x", Role.agent)
        resp = client.post("/api/v1/suggestions", json={"description": "我要投诉，退款一直没到账"},
                           headers={"Authorization": f"Bearer {key}"})
    body = resp.json()
    assert resp.status_code == 200 and body["similar_cases"] == []
    assert set(body["missing"]) == {"index_unavailable", "model_unavailable"}
    assert body["type"]["label"] == "投诉"


def test_a_burst_of_suggestions_all_answer(api_model):
    """More requests at once than the connection pool holds: each request holds at most one
    connection at a time (the suggestion log is written after the reads end), so none waits
    for a connection that only another waiting request could give back."""
    from concurrent.futures import ThreadPoolExecutor

    draft = {"subject": "打卡失败", "description": "员工打卡时总提示不在考勤范围，报错E1024"}
    with ThreadPoolExecutor(max_workers=48) as pool:
        codes = list(pool.map(lambda _: api_model.post("/api/v1/suggestions", json=draft).status_code, range(96)))
    assert codes == [200] * 96

    def logged() -> int:
        with make_session(api_model.engine) as s:
            return len(s.exec(select(SuggestionLog)).all())

    assert wait_for(lambda: logged() == 96) and logged() == 96
