"""Knowledge gaps (clusters of resolved cases without an article) and the stale-article review list."""

from __future__ import annotations

from kb.models import Role
from tests.api.test_articles import create, publish
from tests.conftest import add_user, case_payload

KM = Role.knowledge_manager
INVOICE = ["电子发票开具失败，提示抬头税号不正确", "开电子发票时报税号格式错误，发票开不出来", "电子发票税号校验失败无法开票",
           "申请电子发票提示税号错误", "公司抬头税号填了还是开票失败，电子发票出不来"]
LOCK = ["蓝牙门锁开锁失败，App搜不到门锁", "门锁蓝牙连接不上，开锁一直失败", "App蓝牙开门锁失败，提示连接超时",
        "蓝牙搜索不到门锁，无法开锁"]
OTHER = ["会员积分没有到账", "想修改收货地址"]


def resolved(api, subject: str, **fields) -> str:
    number = api.post("/api/v1/cases", json=case_payload(subject=subject[:20], description=subject, tags=[],
                                                         product=fields.pop("product", "智能办公系统"))).json()["number"]
    r = api.post(f"/api/v1/cases/{number}/resolve", json={"solution_temp": "已指导客户处理", "result": "已解决", **fields})
    assert r.status_code == 200, r.text
    return number


def test_gaps_group_uncovered_cases_and_disappear_once_an_article_covers_them(api):
    invoice = [resolved(api, s) for s in INVOICE]
    lock = [resolved(api, s) for s in LOCK]
    for s in OTHER:
        resolved(api, s)
    api.post("/api/v1/cases", json=case_payload(subject="电子发票税号错误", description="开电子发票税号错误"))  # open
    assert api.get("/api/v1/kb/gaps").status_code == 403                      # agents don't review gaps
    body = api.get("/api/v1/kb/gaps", KM).json()
    assert body["cases_considered"] == 11
    sizes = {g["size"]: g for g in body["gaps"]}
    assert sorted(sizes) == [4, 5] and body["gaps"][0]["size"] == 5
    assert set(sizes[5]["case_numbers"]) == set(invoice) and set(sizes[4]["case_numbers"]) == set(lock)
    assert sizes[5]["suggested_title"] in {s[:20] for s in INVOICE} and "发票" in " ".join(sizes[5]["top_terms"])
    assert sizes[5]["recent"] == 5 and sizes[5]["trend"] == 5

    create(api, title="电子发票税号错误怎么办", body="核对税号", case_numbers=invoice)
    after = api.get("/api/v1/kb/gaps", KM).json()
    assert [g["size"] for g in after["gaps"]] == [4] and after["cases_considered"] == 6
    assert api.get("/api/v1/kb/gaps", KM, params={"min_size": 1}).status_code == 422


def test_stale_lists_review_due_superseded_and_unhelpful_articles(api):
    resolved(api, "考勤打卡定位偏移", fixed_in_version="V2.3", product="智能办公系统")
    old = publish(api, create(api, title="考勤定位偏移", body="升级到 V2.1", product="智能办公系统",
                              fixed_in_version="V2.1", next_review_at="2024-01-01"))
    unhelpful = publish(api, create(api, title="积分到账说明", body="积分24小时内到账", product="会员系统",
                                    fixed_in_version="V1.0"))
    fresh = publish(api, create(api, title="发票开具", body="在订单详情开票", product="智能办公系统",
                                fixed_in_version="V9.0"))
    for i in range(5):                                  # five agents, one vote each
        key = add_user(api.engine, f"voter_{i}", Role.agent)
        api.client.post(f"/api/v1/articles/{unhelpful['id']}/feedback", json={"helped": False},
                        headers={"Authorization": f"Bearer {key}"})
    body = api.get("/api/v1/kb/stale", KM).json()
    by_id = {item["id"]: {r["code"] for r in item["reasons"]} for item in body["items"]}
    assert by_id[old["id"]] == {"review_due", "version_superseded"}
    assert by_id[unhelpful["id"]] == {"helpfulness_falling"}
    assert fresh["id"] not in by_id and body["items"][0]["id"] == old["id"]
    superseded = next(r for r in body["items"][0]["reasons"] if r["code"] == "version_superseded")
    assert "V2.3" in superseded["message"]
