"""The analyst's day with models, in the browser: read both heads' figures and the confusion
matrix, train a candidate with a progress bar, compare it with production, promote it and roll
back."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_analyst_trains_compares_promotes_and_rolls_back(screen, service):
    page = screen.page
    screen.sign_in("analyst", then="/models")
    rows = page.locator("#version-table tbody tr")
    expect(rows.first).to_be_visible()
    before = rows.count()
    production = page.locator("#version-table tbody tr.production")
    expect(production).to_have_count(1)
    old_version = production.get_attribute("data-version")
    expect(page.locator("[data-head=type] .per-class tbody tr").first).to_be_visible()    # per-class P/R/F1
    assert page.evaluate("Chart.getChart('confusion-type').data.datasets.length") >= 2    # the confusion matrix
    assert re.fullmatch(r"\d\.\d{3}", production.locator("td").nth(7).inner_text())      # priority macro-F1 shown too

    page.click("#train")
    expect(page.locator("#train-box")).to_be_visible()
    expect(page.locator("#train-message")).to_contain_text("完成", timeout=180_000)
    expect(rows).to_have_count(before + 1)
    assert page.evaluate("document.querySelector('#train-progress').value") == 1
    screen.shot("21-models")

    new_version = rows.first.get_attribute("data-version")
    assert new_version != old_version
    # the training job also tried the learned ranker: the demo desk has no used-solution links
    expect(rows.first.locator("td").nth(13)).to_have_text("未启用（0 条）")
    rows.first.locator("button.link").click()
    expect(page.locator("#detail-meta")).to_contain_text("排序模型未启用：可用的采用记录 0 条")
    page.click("#compare")                                     # the two newest: the candidate and production
    expect(page.locator("#compare-table tbody")).to_contain_text("类型 macro-F1")
    expect(page.locator("#compare-table tbody")).to_contain_text("优先级 macro-F1")

    page.once("dialog", lambda d: d.accept("新数据上重训"))
    page.click(f"#promote-{new_version}")
    expect(page.locator(f"#version-table tbody tr[data-version='{new_version}']")).to_have_class(re.compile("production"))
    models = {m["version"]: m for m in service.api("GET", "/api/v1/models", role="analyst").json()}
    assert models[new_version]["status"] == "production" and models[old_version]["status"] == "retired"

    page.once("dialog", lambda d: d.accept())
    page.click("#rollback")
    expect(page.locator(f"#version-table tbody tr[data-version='{old_version}']")).to_have_class(re.compile("production"))
    screen.shot("22-models-rolled-back")
