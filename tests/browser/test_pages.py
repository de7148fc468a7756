"""The three jobs done in the browser, on the demo data: an agent logs a case with the
proposals and similar cases beside the form; a knowledge manager edits an article and
restores a version; an agent imports a sheet with a bad row; a supervisor reads reports."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

from playwright.sync_api import expect

from kb.cases.sheet_layout import SERVICE_HEADERS


def test_sign_in_rejects_a_bad_key_and_lands_each_role_on_its_page(screen, service):
    page = screen.page
    page.goto(f"{service.url}/workspace")
    expect(page).to_have_url(re.compile(r"/login\?next="))           # not signed in → sign-in page
    page.fill("#key", "zk_not_a_key")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("密钥无效")
    screen.shot("01-login")
    screen.sign_in("analyst")
    expect(page).to_have_url(re.compile(r"/reports"))
    expect(page.locator("#nav a[href='/workspace']")).to_be_hidden()  # the nav follows the role
    expect(page.locator("#who-role")).to_have_text("数据分析")


def test_agent_logs_a_case_with_suggestions_accepts_them_and_saves(screen, service):
    page = screen.page
    screen.sign_in("agent")
    expect(page).to_have_url(re.compile(r"/workspace"))
    page.fill("#customer_name", "杭州云帆科技有限公司")
    page.select_option("#customer_kind", "企业客户")
    page.fill("#contact", "13812345678")
    page.fill("#subject", "考勤打卡定位失败")
    page.fill("#description", "员工用App打卡一直提示不在考勤范围内，错误码E1024，已经重启手机也不行")
    page.fill("#product", "智能办公系统")
    # proposals and similar resolved cases appear beside the form while typing
    expect(page.locator("#proposal-type .label")).not_to_be_empty()
    expect(page.locator("#proposal-type .chip.accent").first).not_to_contain_text("object")   # the driving words
    expect(page.locator("#similar .hit").first).to_be_visible()
    expect(page.locator("#similar .solution").first).to_be_visible()
    screen.shot("02-workspace-suggestions")

    proposed_type = page.locator("#proposal-type").get_attribute("data-label")
    proposed_priority = page.locator("#proposal-priority").get_attribute("data-label")
    page.click("#accept-type")
    page.click("#accept-priority")
    expect(page.locator("#type")).to_have_value(proposed_type)
    expect(page.locator("#priority")).to_have_value(proposed_priority)
    expect(page.locator("#proposal-type")).to_have_class(re.compile("accepted"))

    page.locator("#similar .hit button").first.click()                # open a similar case without losing the draft
    expect(page.locator("#drawer")).to_be_visible()
    expect(page.locator("#drawer")).to_contain_text("临时方案")
    page.click("#drawer .close")

    page.click("#save")
    number = page.locator("#saved-number")
    expect(number).to_have_text(re.compile(r"^FW\d{11}$"))
    expect(page.locator("#saved")).to_contain_text("截止")            # SLA due times with their explanation
    screen.shot("03-workspace-saved")

    case = service.api("GET", f"/api/v1/cases/{number.inner_text()}").json()
    assert case["type"] == proposed_type and case["priority"] == proposed_priority
    assert case["contact_masked"] == "138****5678"
    # the acceptance was recorded against the model version that proposed it
    models = service.api("GET", "/api/v1/models", role="analyst").json()
    production = next(m for m in models if m["status"] == "production")
    acc = service.api("GET", f"/api/v1/models/{production['version']}/acceptance", role="analyst").json()
    assert acc["type"]["accepted"] >= 1


def test_agent_sees_overdue_cases_and_works_one(screen, service):
    page = screen.page
    screen.sign_in("agent", then="/cases")
    expect(page.locator("#case-table tbody tr").first).to_be_visible()
    page.check("#f-overdue")
    page.click("#filters button[type=submit]")
    expect(page.locator("#case-table tbody tr.overdue").first).to_be_visible()
    screen.shot("04-case-list-overdue")

    created = service.api("POST", "/api/v1/cases", role="agent", json={
        "channel": "电话", "customer_name": "王女士", "subject": "发票抬头开错", "description": "开票时抬头写错了，需要重开",
        "type": "变更", "priority": "中"}).json()
    page.goto(f"{service.url}/cases/{created['number']}")
    expect(page.locator("#case-status")).to_have_text("待处理")
    page.fill("#resolve-form [name=solution_temp]", "作废原发票并重新开具")
    page.fill("#resolve-form [name=result]", "已重开发票")
    page.click("#resolve-form button[type=submit]")
    expect(page.locator("#case-status")).to_have_text("已解决")
    page.select_option("#feedback-form [name=satisfaction]", "满意")
    page.fill("#feedback-form [name=nps_score]", "9")
    page.click("#feedback-form button[type=submit]")
    expect(page.locator("#case-fields")).to_contain_text("NPS 9")
    expect(page.locator("#history tbody tr")).not_to_have_count(0)
    screen.shot("05-case-detail")


def test_knowledge_manager_edits_an_article_and_restores_a_version(screen, service):
    page = screen.page
    screen.sign_in("knowledge_manager")
    expect(page).to_have_url(re.compile(r"/knowledge"))
    expect(page.locator("#article-table tbody tr").first).to_be_visible()
    screen.shot("06-knowledge-list")
    page.locator("#article-table tbody tr a").first.click()
    expect(page.locator("#a-state")).to_be_visible()
    original = page.input_value("#a-body")
    start = int(re.search(r"v(\d+)", page.locator("#state-box").inner_text()).group(1))

    page.fill("#a-body", original + "\n\n## 补充\n\n如仍失败，请**清除应用缓存**后重试。")
    expect(page.locator("#preview strong")).to_have_text("清除应用缓存")   # live Markdown preview
    page.fill("#a-tags", page.input_value("#a-tags") + ", 清缓存")
    page.fill("#a-note", "补充清缓存步骤")
    page.click("#a-save")
    expect(page.locator("#state-box")).to_contain_text(f"v{start + 1}")
    expect(page.locator("#versions tbody tr")).to_have_count(start + 1)

    page.click("#compare")                                               # the two newest versions
    expect(page.locator("#diff-table")).to_contain_text("清除应用缓存")
    expect(page.locator("#diff")).to_contain_text("标签：")                # Chinese labels, readable values
    diff_text = page.locator("#diff").inner_text()
    assert "tags" not in diff_text and '["' not in diff_text and "清缓存" in diff_text, diff_text
    page.locator("#diff-table").scroll_into_view_if_needed()
    screen.shot("07-article-diff")

    page.once("dialog", lambda d: d.accept())
    page.click(f"#restore-{start}")
    expect(page.locator("#state-box")).to_contain_text(f"v{start + 2}")
    assert page.input_value("#a-body") == original
    screen.shot("08-article-restored")

    page.goto(f"{service.url}/knowledge")
    # the tabs work once the page's script has run (it lists the articles last): a click before
    # that was lost in CI, and the articles stayed on screen
    expect(page.locator("#article-table tbody tr").first).to_be_visible()
    page.click("#tabs button[data-tab=gaps]")
    expect(page.locator("#gaps p").first).to_be_visible()
    gaps = service.api("GET", "/api/v1/kb/gaps?days=365", role="knowledge_manager").json()["gaps"]
    assert gaps, "the demo data has knowledge gaps to show"
    example = gaps[0]["examples"][0]["number"]
    expect(page.locator(f"#gaps a[href='/cases/{example}']")).to_be_visible()   # examples are links
    screen.shot("09-knowledge-gaps")


def _sheet_with_a_bad_row() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(SERVICE_HEADERS)
    w.writerow(["1", "2026-11-02", "09:10", "电话", "赵先生", "", "13700001234", "宽带断网", "家里宽带从昨晚开始断网，光猫LOS灯红色闪烁",
                "投诉", "高", "处理中", "liwei", "", "", "", ""])
    w.writerow(["2", "2026-11-02", "10:20", "信鸽", "钱女士", "", "", "咨询套餐", "想了解200M宽带套餐资费", "咨询", "中", "待处理",
                "", "", "", "", ""])
    w.writerow(["3", "2026-11-02", "11:30", "在线客服", "孙先生", "", "", "发票查询", "上月电子发票没有收到", "咨询", "低", "已解决",
                "liwei", "", "已重新发送到邮箱", "满意", ""])
    return buf.getvalue().encode("gbk")


def test_agent_imports_a_sheet_with_a_bad_row_and_sees_the_report(screen, service, tmp_path):
    page = screen.page
    screen.sign_in("agent", then="/import")
    sheet = tmp_path / "需求记录表-11月.csv"
    sheet.write_bytes(_sheet_with_a_bad_row())
    page.set_input_files("#file", str(sheet))
    page.click("#dry-run")
    expect(page.locator("#bad-count")).to_have_text("1")
    row = page.locator("#report-errors tbody tr").first
    expect(row).to_contain_text("3")                                     # the sheet's row number (header is row 1)
    expect(row).to_contain_text("沟通渠道")
    screen.shot("10-import-dry-run")

    page.click("#do-import")
    expect(page.locator("#imported-count")).to_have_text("2")
    expect(page.locator("#report-numbers a")).to_have_count(2)
    screen.shot("11-import-done")
    numbers = page.locator("#report-numbers a").all_inner_texts()
    imported = service.api("GET", f"/api/v1/cases/{numbers[0]}").json()
    assert imported["contact_masked"] == "137****1234" and imported["subject"] == "宽带断网"


def test_supervisor_reads_the_reports_with_charts(screen, service):
    page = screen.page
    screen.sign_in("admin", then=quote("/reports?date_from=2026-05-01&date_to=2026-11-30&granularity=month"))
    expect(page.locator("#kpis .kpi").first).to_be_visible()
    for canvas in ("chart-volumes", "chart-sla", "chart-csat", "chart-nps", "chart-top", "chart-acceptance"):
        page.wait_for_function(f"() => !!Chart.getChart('{canvas}')")      # each drawn as its report arrives
    drawn = page.evaluate("Chart.getChart('chart-volumes').data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0)")
    volumes = service.api("GET", "/api/v1/reports/volumes?date_from=2026-05-01&date_to=2026-11-30&granularity=month",
                          role="analyst").json()
    assert drawn == volumes["total"] > 300                              # the chart shows the API's figures
    screen.shot("12-reports")
    page.locator("[data-report=top-problems] summary").click()
    expect(page.locator("[data-report=top-problems] details table tbody tr").first).to_be_visible()
    page.select_option("#volume-dim", "channel")
    assert "电话" in page.evaluate("Chart.getChart('chart-volumes').data.datasets.map(d => d.label)")


def test_knowledge_manager_turns_a_resolved_case_into_a_published_article_for_an_audience(screen, service):
    page = screen.page
    case = service.api("POST", "/api/v1/cases", role="agent", json={
        "channel": "在线客服", "customer_name": "嘉兴禾丰餐饮", "subject": "收银机小票打印乱码",
        "description": "升级收银软件后小票上的中文全部变成乱码，客户电话13611112222", "type": "咨询", "priority": "中"}).json()
    service.api("POST", f"/api/v1/cases/{case['number']}/resolve", role="agent", json={
        "root_cause": "环境配置问题", "solution_temp": "打印机驱动切换为 GB18030 编码", "result": "小票恢复正常"})
    screen.sign_in("knowledge_manager", then="/knowledge")
    page.fill("#from-case-form [name=case_number]", case["number"])
    page.click("#from-case-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/knowledge/\d+$"))
    expect(page.locator("#a-body")).to_have_value(re.compile("GB18030"))
    assert "13611112222" not in page.input_value("#a-body")                 # drafted from the redacted case
    expect(page.locator("#links-card")).to_contain_text(case["number"])
    page.select_option("#a-audience", "仅技术团队")
    page.fill("#a-note", "按受众发布")
    page.click("#a-save")
    expect(page.locator("#state-box")).to_contain_text("v2")
    page.locator("#state-box button", has_text="提交审核").click()
    expect(page.locator("#a-state")).to_have_text("审核中")
    page.locator("#state-box button", has_text="发布").click()
    expect(page.locator("#a-state")).to_have_text("已发布")
    screen.shot("23-article-published")
    article_id = int(page.url.rsplit("/", 1)[1])
    stored = service.api("GET", f"/api/v1/articles/{article_id}", role="knowledge_manager").json()
    assert stored["state"] == "已发布" and stored["audience"] == "仅技术团队" and case["number"] in stored["linked_cases"]
    assert service.api("GET", f"/api/v1/articles/{article_id}", role="agent").status_code == 404   # 产品支持组 may not
