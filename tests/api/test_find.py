"""Finding things: the case list and the article list take a keyword (``q``), the case list
sorts by the due time that matters next, and the top bar's search box finds a case by number."""

from __future__ import annotations

from tests.conftest import case_payload


def create(api, **overrides) -> dict:
    resp = api.post("/api/v1/cases", json=case_payload(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def numbers(page: dict) -> set[str]:
    return {c["number"] for c in page["items"]}


def test_case_keyword_finds_open_cases_by_subject_customer_order_number_and_tag(api):
    invoice = create(api, subject="电子发票抬头开错", description="开票时公司名称少了一个字，需要作废重开",
                     customer_name="宁波甬兴贸易有限公司", order_number="SO-88231", tags=["发票", "E4012"])
    router = create(api, subject="路由器频繁掉线", description="每隔半小时断一次网，重启后恢复",
                    customer_name="周先生", order_number="SO-10077", tags=["宽带"])
    resolved = create(api, subject="发票邮箱收不到", description="电子发票发送后邮箱里找不到",
                      customer_name="王女士", tags=["发票"])
    api.post(f"/api/v1/cases/{resolved['number']}/resolve", json={"solution_temp": "改发短信链接", "result": "客户已收到"})

    def find(q: str, **params) -> set[str]:
        resp = api.get("/api/v1/cases", params={"q": q, "page_size": 50, **params})
        assert resp.status_code == 200, resp.text
        return numbers(resp.json())

    assert find("抬头") == {invoice["number"]}                        # subject, an open case
    assert find("甬兴") == {invoice["number"]}                        # customer
    assert find("SO-10077") == {router["number"]}                     # order number
    assert find("E4012") == {invoice["number"]}                       # tag
    assert find("发票") == {invoice["number"], resolved["number"]}     # every status
    assert find("发票 邮箱") == {resolved["number"]}                  # all words must match
    assert find("发票", status="待处理") == {invoice["number"]}        # with the other filters
    assert find(router["number"]) == {router["number"]}               # the number itself
    assert find("100%") == set() and find("_") == set()               # LIKE wildcards are literal


def test_case_keyword_is_checked_like_any_field(api):
    resp = api.get("/api/v1/cases", params={"q": "长" * 101})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "q"


def test_cases_sort_by_the_due_time_that_matters_next(api):
    low = create(api, priority="低", subject="咨询积分规则")
    high = create(api, priority="高", subject="系统无法登录")
    answered = create(api, priority="中", subject="修改收货地址")
    api.patch(f"/api/v1/cases/{answered['number']}", json={"first_response": True})
    page = api.get("/api/v1/cases", params={"sort": "due", "status": ["待处理", "处理中"]}).json()
    order = [c["number"] for c in page["items"]]
    due = {c["number"]: (c["response_due_at"] if c["first_response_at"] is None else c["resolution_due_at"])
           for c in page["items"]}
    known = [due[n] for n in order if due[n] is not None]
    assert known == sorted(known) and len(known) >= 2                 # earliest due first, nulls last
    assert order.index(high["number"]) < order.index(low["number"])
    assert api.get("/api/v1/cases", params={"sort": "sideways"}).status_code == 422


def test_article_keyword_finds_title_body_and_tags_the_reader_may_see(api):
    km = "knowledge_manager"
    made = api.post("/api/v1/articles", role=km, json={
        "title": "税控盘无法识别的处理", "body": "## 步骤\n\n1. 重新插拔**税控盘**\n2. 更新开票软件驱动",
        "tags": ["开票", "税控"]})
    assert made.status_code == 201, made.text
    other = api.post("/api/v1/articles", role=km, json={
        "title": "会员积分规则", "body": "积分在签收后 7 天到账", "tags": ["积分"]}).json()

    def find(q: str, role: str = km) -> set[int]:
        resp = api.get("/api/v1/articles", role=role, params={"q": q})
        assert resp.status_code == 200, resp.text
        return {a["id"] for a in resp.json()["items"]}

    assert find("税控盘") == {made.json()["id"]}                      # title
    assert find("驱动") == {made.json()["id"]}                        # body
    assert find("积分") == {other["id"]}                              # title, body and tag
    assert find("开票 驱动") == {made.json()["id"]}
    assert find("不存在的词") == set()
