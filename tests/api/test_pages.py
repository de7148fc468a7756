"""The page shells without a browser: every page answers, every script and style is served
from this app (no CDN), and the Markdown preview is sanitised like published articles."""

from __future__ import annotations

import re

import pytest

PAGES = ["/", "/login", "/workspace", "/cases", "/cases/FW20240521001", "/import", "/knowledge", "/knowledge/new",
         "/knowledge/1", "/reports"]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_served_in_chinese_with_local_assets_only(api, path):
    resp = api.client.get(path)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert '<html lang="zh-CN">' in html and 'data-tz="Asia/Shanghai"' in html
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|svg)[^"]*)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        assert api.client.get(asset).status_code == 200, asset
    assert "http://" not in html and "https://" not in html


def test_reports_page_loads_the_bundled_chart_library(api):
    html = api.client.get("/reports").text
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    lib = api.client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert lib.status_code == 200 and "Chart.js v4" in lib.text[:200]


def test_pages_are_not_part_of_the_api_schema(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/workspace" not in paths and "/api/v1/reports/sla" in paths


def test_markdown_preview_is_sanitised_and_for_editors(api):
    body = {"body": "## 步骤\n\n**重启**<script>alert(1)</script>[x](javascript:alert(1))"}
    resp = api.post("/api/v1/articles/preview", role="knowledge_manager", json=body)
    assert resp.status_code == 200
    html = resp.json()["html"]
    assert "<strong>重启</strong>" in html and "<script" not in html and 'href="javascript:' not in html
    assert api.post("/api/v1/articles/preview", role="agent", json=body).status_code == 403
