"""Hostile uploads: zip bombs in an article import and in an XLSX, an archive of thousands of
files, a directory that lies about sizes, oversized CSV cells, a sheet padded with empty rows.
Each answers 413/422 naming the field, stores nothing, and reading it grows memory by a
bounded amount (measured in a fresh process, where the peak RSS means something)."""

from __future__ import annotations

import json
import subprocess
import sys

from kb.cases.sheet_import import BLANK_ROW_RUN
from kb.models import Role
from kb.settings import PROJECT_ROOT
from tests.api.test_import_export import csv_bytes, upload, xlsx_bytes
from tests.hostile_files import xlsx_with_bomb, zip_bomb, zip_lying_about_size, zip_of_many

ROW = ["1", "2024-05-21", "09:15", "电话", "杭州云帆科技有限公司", "C100233", "", "考勤打卡失败",
       "员工打卡一直提示不在考勤范围", "投诉", "高", "待处理", "", "", "", "", ""]


def import_md(api, name: str, content: bytes):
    return api.post("/api/v1/articles/import", Role.knowledge_manager,
                    files={"files": (name, content, "application/zip")})


def case_count(api) -> int:
    return api.get("/api/v1/cases", params={"page_size": 1}).json()["total"]


def article_count(api) -> int:
    return api.get("/api/v1/articles", Role.knowledge_manager, params={"page_size": 1}).json()["total"]


def test_a_zip_bomb_of_markdown_is_refused_with_413_and_nothing_stored(api):
    before = article_count(api)
    resp = import_md(api, "faq.zip", zip_bomb("faq/bomb.md"))
    assert resp.status_code == 413, resp.text
    problem = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == "files" and "MB" in problem["detail"]
    assert article_count(api) == before


def test_an_archive_of_thousands_of_files_is_refused(api):
    resp = import_md(api, "faq.zip", zip_of_many(6000))
    assert resp.status_code == 413 and "文件过多" in resp.json()["detail"]


def test_a_directory_that_understates_a_size_yields_only_the_stated_bytes(api):
    # zipfile stops at the stated size; those 100 bytes are NULs, which no article may hold
    before = article_count(api)
    resp = import_md(api, "faq.zip", zip_lying_about_size("faq/small.md"))
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["imported"] == 0 and [(e["file"], e["field"]) for e in report["errors"]] == [("faq/small.md", "body")]
    assert article_count(api) == before


def test_an_xlsx_carrying_a_bomb_is_refused_before_openpyxl_reads_it(api):
    before = case_count(api)
    resp = upload(api, xlsx_with_bomb(xlsx_bytes([ROW])), "需求记录表.xlsx")
    assert resp.status_code == 413, resp.text
    assert resp.json()["errors"][0]["field"] == "file"
    assert case_count(api) == before


def test_a_damaged_xlsx_and_a_foreign_zip_are_422(api):
    good = xlsx_bytes([ROW])
    for content in (good[: len(good) // 2], zip_of_many(3)):
        resp = upload(api, content, "需求记录表.xlsx")
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == "file"


def test_a_csv_cell_beyond_the_csv_field_limit_is_a_clear_422(api):
    row = list(ROW)
    row[8] = "很长的描述" * 60_000            # 300k characters: beyond csv.field_size_limit
    resp = upload(api, csv_bytes([row]), "需求记录表.csv")
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "file" and "行" in resp.json()["detail"]


def test_a_sheet_padded_with_empty_rows_stops_reading_and_says_where(api):
    lines = csv_bytes([ROW]).decode("utf-8-sig") + ",\r\n" * (BLANK_ROW_RUN + 5)
    late = list(ROW)
    late[0], late[7] = "2", "远处的一行"
    content = (lines + ",".join(late) + "\r\n").encode("utf-8-sig")
    report = upload(api, content, "需求记录表.csv", dry_run=True).json()
    assert report["total_rows"] == 1
    assert report["stopped_at_row"] == 2 + BLANK_ROW_RUN and str(BLANK_ROW_RUN) in report["notes"][0]


def test_a_well_formed_sheet_still_reads_every_row_past_short_blank_gaps(api):
    lines = csv_bytes([ROW]).decode("utf-8-sig") + ",\r\n" * 20
    late = list(ROW)
    late[0] = "2"
    report = upload(api, (lines + ",".join(late) + "\r\n").encode("utf-8-sig"), "需求记录表.csv", dry_run=True).json()
    assert report["total_rows"] == 2 and report["stopped_at_row"] is None and report["notes"] == []


def test_reading_a_gigabyte_bomb_grows_memory_by_less_than_100_mb(tmp_path):
    uploads = [("md", "faq.zip", zip_bomb("faq/bomb.md")), ("sheet", "a.xlsx", xlsx_with_bomb(xlsx_bytes([["序号"]])))]
    for kind, name, raw in uploads:
        path = tmp_path / name
        path.write_bytes(raw)
        out = subprocess.run([sys.executable, "-m", "tests.hostile_files", str(path), kind], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        assert figures["result"] == "refused: TooLarge", figures
        assert figures["rss_kb"] < 100 * 1024, figures
