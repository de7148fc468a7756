"""Knowledge articles through the API: versions, diff, restore, edit conflicts, workflow,
publish-from-case redaction, feedback, audience rules (no leaks through search, suggestions,
counts or reads), sanitised Markdown, Markdown import/export."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlmodel import func, select

from kb.db import make_session
from kb.models import Article, ArticleCaseLink, ArticleVersion, Role
from tests.conftest import add_user, case_payload
from tests.e2e.test_log_and_suggest import RESOLUTION, wait_for

KM = Role.knowledge_manager
BODY = "## 问题现象\n小票打印机不出纸，指示灯闪红。\n\n## 解决方案\n1. 检查纸仓\n2. 重启打印服务\n"


def create(api, **overrides) -> dict:
    payload = {"title": "小票打印机不出纸怎么办", "body": BODY, "tags": ["收银", "打印"], "product": "云收银",
               "fixed_in_version": "V5.3"} | overrides
    resp = api.post("/api/v1/articles", KM, json=payload)
    assert resp.status_code == 201, resp.text
    return resp.json()


def publish(api, article: dict) -> dict:
    v = article["version"]
    api.post(f"/api/v1/articles/{article['id']}/transitions", KM, json={"state": "审核中", "version": v})
    resp = api.post(f"/api/v1/articles/{article['id']}/transitions", KM, json={"state": "已发布", "version": v + 1})
    assert resp.status_code == 200, resp.text
    return resp.json()


def count_versions(api, article_id: int) -> int:
    with make_session(api.engine) as s:
        return s.exec(select(func.count()).select_from(ArticleVersion)
                      .where(ArticleVersion.article_id == article_id)).one()


def test_every_save_is_a_version_and_any_two_can_be_diffed_and_restored(api):
    a = create(api)
    assert a["version"] == 1 and a["state"] == "草稿" and a["owner"] == "u_knowledge_manager"
    body2 = BODY.replace("2. 重启打印服务", "2. 重启打印服务\n3. 更换打印头")
    r = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"version": 1, "body": body2, "change_note": "补充步骤"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    r = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"version": 2, "tags": ["收银"], "audience": "仅技术团队"})
    assert r.json()["version"] == 3                                   # metadata alone is a version too
    same = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"version": 3, "tags": ["收银"]})
    assert same.json()["version"] == 3                                # nothing changed: no empty version

    versions = api.get(f"/api/v1/articles/{a['id']}/versions", KM).json()
    assert [v["number"] for v in versions] == [3, 2, 1] and versions[1]["change_note"] == "补充步骤"
    diff = api.get(f"/api/v1/articles/{a['id']}/diff", KM, params={"from": 1, "to": 3}).json()
    assert "+3. 更换打印头" in diff["unified"] and diff["body_changed"]
    assert {f["field"] for f in diff["fields"]} == {"tags", "audience"}
    assert any(row["op"] == "insert" and row["new"] == "3. 更换打印头" for row in diff["rows"])

    r = api.post(f"/api/v1/articles/{a['id']}/versions/1/restore", KM, json={"version": 3})
    restored = r.json()
    assert restored["version"] == 4 and restored["body"] == BODY.strip() and restored["tags"] == ["收银", "打印"]
    assert restored["audience"] == "内部公开"
    v1 = api.get(f"/api/v1/articles/{a['id']}/versions/1", KM).json()
    assert v1["body"] == BODY.strip() and v1["change_note"] == "创建"          # the first version is always kept
    assert count_versions(api, a["id"]) == 4
    assert api.get(f"/api/v1/articles/{a['id']}/diff", KM, params={"from": 1, "to": 9}).status_code == 404


def test_a_save_on_a_stale_version_is_a_conflict_and_changes_nothing(api):
    a = create(api)
    first = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"version": 1, "title": "甲的修改"})
    assert first.status_code == 200
    second = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"version": 1, "title": "乙的修改"})
    assert second.status_code == 409
    problem = second.json()
    assert problem["errors"][0]["field"] == "version" and problem["current_version"] == 2
    assert api.get(f"/api/v1/articles/{a['id']}", KM).json()["title"] == "甲的修改"
    assert count_versions(api, a["id"]) == 2
    missing = api.patch(f"/api/v1/articles/{a['id']}", KM, json={"title": "没有版本号"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "version"


def test_review_step_is_required_before_publishing(api):
    a = create(api)
    r = api.post(f"/api/v1/articles/{a['id']}/transitions", KM, json={"state": "已发布", "version": 1})
    assert r.status_code == 409 and r.json()["allowed"] == ["审核中", "已归档"]
    published = publish(api, a)
    assert published["state"] == "已发布" and published["published_at"] and published["version"] == 3
    archived = api.post(f"/api/v1/articles/{a['id']}/transitions", KM,
                        json={"state": "已归档", "version": 3}).json()
    assert archived["state"] == "已归档"


def test_roles_and_bad_input(api):
    assert api.post("/api/v1/articles", Role.agent, json={"title": "x" * 5, "body": "正文"}).status_code == 403
    r = api.post("/api/v1/articles", KM, json={"title": "标题", "body": "正文", "audience": "不存在的受众"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "audience"
    r = api.post("/api/v1/articles", KM, json={"title": "标题", "body": "正文", "case_numbers": ["FW20990101001"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case_numbers"
    r = api.post("/api/v1/articles", KM, json={"title": "标", "body": ""})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"title", "body"}
    with make_session(api.engine) as s:
        assert s.exec(select(func.count()).select_from(Article)).one() == 0


def test_markdown_is_rendered_without_script_injection(api):
    evil = "正文\n\n<script>alert(1)</script>\n\n[点我](javascript:alert(2))\n\n<img src=x onerror=alert(3)>\n\n**加粗**"
    a = create(api, body=evil)
    html = a["body_html"]
    assert "<strong>加粗</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html                                    # shown as text, never run


def test_publish_from_case_uses_the_template_redacts_and_links(api):
    number = api.post("/api/v1/cases", json=case_payload()).json()["number"]
    r = api.post("/api/v1/articles/from-case", KM, json={"case_number": number})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "case_number"   # not resolved yet
    api.post(f"/api/v1/cases/{number}/resolve",
             json=RESOLUTION | {"solution_temp": "开启高精度定位，如仍失败请致电 13912345678 或发邮件 ops@yunfan.cn"})
    r = api.post("/api/v1/articles/from-case", KM, json={"case_number": number})
    assert r.status_code == 201, r.text
    a = r.json()
    for section in ("## 问题现象", "## 原因分析", "## 临时解决方案", "## 永久解决方案", "## 修复版本"):
        assert section in a["body"]
    assert "13912345678" not in a["body"] and "ops@yunfan.cn" not in a["body"]
    assert "V2.2" in a["body"] and a["fixed_in_version"] == "V2.2" and a["problem_type"] == "投诉"
    assert set(a["tags"]) >= {"考勤", "E1024", "考勤模块"} and a["linked_cases"] == [number]
    other = api.post("/api/v1/cases", json=case_payload(subject="考勤打卡又失败")).json()["number"]
    linked = api.post(f"/api/v1/articles/{a['id']}/cases", KM, json={"case_numbers": [other, number]}).json()
    assert linked["linked_cases"] == sorted([number, other]) and linked["version"] == a["version"]
    r = api.post("/api/v1/articles/from-case", KM, json={"case_number": "FW20990101999"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "case_number"


def test_feedback_gives_per_article_helpfulness(api):
    a = publish(api, create(api))
    number = api.post("/api/v1/cases", json=case_payload()).json()["number"]
    voters = [api.keys[Role.agent], add_user(api.engine, "agent_b", Role.agent), add_user(api.engine, "agent_c", Role.agent)]
    for key, helped in zip(voters, (True, True, False), strict=True):
        r = api.client.post(f"/api/v1/articles/{a['id']}/feedback", headers={"Authorization": f"Bearer {key}"},
                            json={"helped": helped, "case_number": number, "comment": "客户电话 13812345678 已回访"})
        assert r.status_code == 201
    assert r.json() == {"helped": 2, "not_helped": 1, "ratio": 0.667}
    assert api.get(f"/api/v1/articles/{a['id']}").json()["helpfulness"]["ratio"] == 0.667
    r = api.post(f"/api/v1/articles/{a['id']}/feedback", json={"helped": "也许"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "helped"


def test_one_vote_per_user_per_article_which_a_second_click_changes(api):
    a = publish(api, create(api))
    url = f"/api/v1/articles/{a['id']}/feedback"
    assert api.post(url, json={"helped": True}).json() == {"helped": 1, "not_helped": 0, "ratio": 1.0}
    assert api.post(url, json={"helped": True}).json() == {"helped": 1, "not_helped": 0, "ratio": 1.0}
    assert api.post(url, json={"helped": False}).json() == {"helped": 0, "not_helped": 1, "ratio": 0.0}
    other = add_user(api.engine, "agent_d", Role.agent)
    r = api.client.post(url, headers={"Authorization": f"Bearer {other}"}, json={"helped": True})
    assert r.json() == {"helped": 1, "not_helped": 1, "ratio": 0.5}


def test_audience_filtering_never_reveals_an_article(api):
    """A tech-only article: agents outside the tech groups see no title, snippet, count or hit."""
    tech_key = add_user(api.engine, "tech_agent", Role.agent, group="技术支持组")
    tech = {"Authorization": f"Bearer {tech_key}"}
    secret = publish(api, create(api, title="数据库主从切换演练步骤", body="主从切换 failover 演练：先停写再切换VIP",
                                 audience="仅技术团队", product="云收银"))
    public = publish(api, create(api, title="主从切换期间收银离线说明", body="主从切换时收银转离线模式，恢复后自动同步",
                                 product="云收银"))
    draft = create(api, title="主从切换草稿", body="主从切换 草稿内容")

    def search(headers):
        return api.client.get("/api/v1/search", params={"q": "主从切换", "kind": "article"}, headers=headers).json()

    assert wait_for(lambda: search(tech)["total"] == 2, timeout=5)
    agent = search(api.as_(Role.agent))
    assert agent["total"] == 1 and [a["id"] for a in agent["articles"]] == [public["id"]]
    assert "数据库" not in str(agent)
    suggestion = api.post("/api/v1/suggestions", json={"subject": "主从切换", "description": "主从切换 failover 演练"})
    assert [a["id"] for a in suggestion.json()["articles"]] == [public["id"]]
    tech_suggestion = api.client.post("/api/v1/suggestions", headers=tech,
                                      json={"subject": "主从切换", "description": "主从切换 failover 演练"}).json()
    assert tech_suggestion["articles"][0]["id"] == secret["id"]
    assert api.get(f"/api/v1/articles/{secret['id']}").status_code == 404
    assert api.get(f"/api/v1/articles/{secret['id']}/versions").status_code == 404
    assert api.post(f"/api/v1/articles/{secret['id']}/feedback", json={"helped": True}).status_code == 404
    assert api.get(f"/api/v1/articles/{draft['id']}").status_code == 404
    listed = api.get("/api/v1/articles").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == public["id"]
    assert api.client.get("/api/v1/articles", headers=tech).json()["total"] == 2
    assert api.get("/api/v1/articles", KM).json()["total"] == 3        # curators see every state and audience


def test_archiving_removes_the_article_from_search(api):
    a = publish(api, create(api, title="会员积分没到账", body="积分到账延迟最长24小时"))
    assert wait_for(lambda: api.get("/api/v1/search", params={"q": "积分到账", "kind": "article"}).json()["total"])
    api.post(f"/api/v1/articles/{a['id']}/transitions", KM, json={"state": "已归档", "version": a["version"]})
    assert wait_for(lambda: api.get("/api/v1/search", params={"q": "积分到账", "kind": "article"}).json()["total"]
                    == 0)


def test_markdown_export_and_import_round_trip_and_report_bad_files(api):
    a = publish(api, create(api))
    export = api.get("/api/v1/articles/export", KM)
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert len(names) == 1 and names[0].endswith(".md")
    text = zipfile.ZipFile(io.BytesIO(export.content)).read(names[0]).decode()
    assert text.startswith("---\n") and "title: 小票打印机不出纸怎么办" in text and "state: 已发布" in text

    faq_ok = "---\ntitle: 如何开具电子发票\ntags: 发票, 财务\naudience: 内部公开\n---\n在订单详情点击「申请开票」。\n"
    faq_plain = "# 忘记登录密码\n\n在登录页点「忘记密码」，按短信验证码重置。\n".encode("gbk")
    faq_bad = "---\ntitle: 坏文件\naudience: 火星团队\ncolour: red\n---\n正文\n"
    files = [("files", ("ok.md", faq_ok.encode(), "text/markdown")),
             ("files", ("plain.md", faq_plain, "text/markdown")),
             ("files", ("bad.md", faq_bad.encode(), "text/markdown"))]
    r = api.post("/api/v1/articles/import", KM, files=files)
    assert r.status_code == 200
    report = r.json()
    assert report["imported"] == 0 and report["valid"] == 2
    assert {(e["file"], e["field"]) for e in report["errors"]} == {("bad.md", "audience"), ("bad.md", "colour")}
    with make_session(api.engine) as s:
        assert s.exec(select(func.count()).select_from(Article)).one() == 1        # nothing imported

    dry = api.post("/api/v1/articles/import", KM, files=files[:2], params={"dry_run": True}).json()
    assert dry["valid"] == 2 and dry["imported"] == 0 and dry["errors"] == []
    done = api.post("/api/v1/articles/import", KM, files=files[:2]).json()
    assert done["imported"] == 2 and len(done["created"]) == 2
    titles = {x["title"]: x for x in api.get("/api/v1/articles", KM, params={"page_size": 50}).json()["items"]}
    assert titles["如何开具电子发票"]["tags"] == ["发票", "财务"] and "忘记登录密码" in titles

    edited = text.replace("1. 检查纸仓", "1. 检查纸仓并清理卡纸")
    again = api.post("/api/v1/articles/import", KM, files=[("files", ("x.md", edited.encode(), "text/markdown"))])
    assert again.json()["updated"] == [a["id"]]
    after = api.get(f"/api/v1/articles/{a['id']}", KM).json()
    assert "清理卡纸" in after["body"] and after["version"] == a["version"] + 1 and after["state"] == "已发布"
    assert api.post("/api/v1/articles/import", Role.agent, files=files[:1]).status_code == 403


@pytest.mark.parametrize("payload, field", [
    ({"state": "发布了", "version": 1}, "state"),
    ({"state": "已发布"}, "version"),
])
def test_bad_transition_input(api, payload, field):
    a = create(api)
    r = api.post(f"/api/v1/articles/{a['id']}/transitions", KM, json=payload)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    with make_session(api.engine) as s:
        assert s.exec(select(func.count()).select_from(ArticleCaseLink)).one() == 0
