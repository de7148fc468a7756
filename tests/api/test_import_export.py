"""Spreadsheet import and export through HTTP: the seed template's three example rows, GBK
and UTF-8 CSV, XLSX, a dry run that names every bad row, one transaction, redaction,
streamed progress, and the filtered export."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import Workbook, load_workbook

from kb.access import create_user
from kb.cases.sheet_layout import AFTER_SALES_HEADERS, SERVICE_EXAMPLES, SERVICE_HEADERS
from kb.db import make_session
from kb.models import Role, UserCreate
from tests.conftest import T0, case_payload


def add_demo_staff(api) -> None:
    with make_session(api.engine, write=True) as s:
        for username, name in (("liwei", "李伟"), ("zhangmin", "张敏"), ("chenjing", "陈静")):
            create_user(s, UserCreate(username=username, display_name=name, role=Role.agent), now=T0)


def csv_bytes(rows, headers=SERVICE_HEADERS, encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, headers=SERVICE_HEADERS, title_row: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    if title_row:
        sheet.append([title_row])
    sheet.append(list(headers))
    for r in rows:
        sheet.append(list(r))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def upload(api, content: bytes, name: str, *, dry_run=False, **kw):
    return api.post(f"/api/v1/cases/import?dry_run={str(dry_run).lower()}",
                    files={"file": (name, content, "application/octet-stream")}, **kw)


def test_the_template_download_has_the_headers_and_three_examples(api):
    resp = api.get("/api/v1/cases/import/template?format=xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(SERVICE_HEADERS) and len(rows) == 4
    text = api.get("/api/v1/cases/import/template?format=csv").content.decode("utf-8-sig")
    assert text.splitlines()[0].split(",")[:3] == ["序号", "沟通日期", "沟通时间"]


def test_the_seed_templates_three_example_rows_import(api):
    add_demo_staff(api)
    template = api.get("/api/v1/cases/import/template?format=xlsx").content
    dry = upload(api, template, "需求记录表.xlsx", dry_run=True).json()
    assert dry["errors"] == [] and dry["ok_rows"] == 3 and dry["imported"] == 0
    assert api.get("/api/v1/cases").json()["total"] == 0          # a dry run stores nothing

    report = upload(api, template, "需求记录表.xlsx").json()
    assert report["imported"] == 3 and report["errors"] == []
    cases = {c["subject"]: c for c in api.get("/api/v1/cases?page_size=10").json()["items"]}
    assert set(cases) == {"查询订单物流", "考勤打卡定位失败", "变更发票抬头"}
    logistics = cases["查询订单物流"]
    assert logistics["status"] == "已解决" and logistics["satisfaction"] == "满意"
    assert logistics["contact_masked"] == "138****5678" and logistics["owner"] == "liwei"
    assert logistics["contact_at"].startswith("2024-05-21T09:30") and logistics["received_at"].startswith("2024-05-21")
    assert cases["考勤打卡定位失败"]["customer_kind"] == "企业客户"
    assert cases["考勤打卡定位失败"]["group"] == "客服主管"          # routed by type like a logged case
    assert cases["考勤打卡定位失败"]["contact_masked"] == "zh***@yunfan.com"
    assert cases["变更发票抬头"]["status"] == "待处理" and cases["变更发票抬头"]["owner"] == "chenjing"
    assert cases["变更发票抬头"]["response_due_at"]                   # SLA from the policy
    history = api.get(f"/api/v1/cases/{logistics['number']}/history").json()
    assert history[0]["action"] == "imported" and "第 2 行" in history[0]["note"]

    again = upload(api, template, "需求记录表.xlsx").json()           # the same sheet twice
    assert again["imported"] == 0 and again["bad_rows"] == 3
    assert all("已导入过" in e["reason"] for e in again["errors"])


def test_gbk_csv_imports_and_text_is_redacted(api):
    add_demo_staff(api)
    rows = [("1", "2024/5/22", "8:05", "电话", "刘女士", "", "13900001111", "退款未到账",
             "申请退款一周未到账，银行卡 6222 0200 0000 0000 006 ，身份证 11010519491231002X，回电13912345678",
             "投诉", "高", "处理中", "张敏", "24小时", "", "", "")]
    report = upload(api, csv_bytes(rows, encoding="gbk"), "records.csv").json()
    assert report["imported"] == 1, report
    case = api.get(f"/api/v1/cases/{report['numbers'][0]}").json()
    assert "13912345678" not in case["description"] and "[手机号]" in case["description"]
    assert "11010519491231002X" not in case["description"]
    assert case["contact_at"].startswith("2024-05-22T08:05")
    assert case["resolution_due_at"].startswith("2024-05-23T08:05")   # 处理时限 24小时 from the sheet


def test_dry_run_reports_every_bad_row_with_row_column_and_reason(api):
    add_demo_staff(api)
    good = list(SERVICE_EXAMPLES[0])
    rows = [
        good,
        ["2", "2024-13-40", "09:00", "电话", "王先生", "", "", "咨询发票", "发票怎么开", "咨询", "中", "待处理", "", "", "", "", ""],
        ["3", "2024-05-21", "09:00", "飞鸽传书", "王先生", "", "", "咨询发票", "发票怎么开", "咨询", "紧急", "待处理", "",
         "", "", "", ""],
        ["4", "2024-05-21", "09:00", "电话", "", "", "", "咨询发票", "", "咨询", "中", "已解决", "不存在的人", "", "", "", ""],
    ]
    report = upload(api, xlsx_bytes(rows, title_row="客户需求记录表"), "bad.xlsx", dry_run=True).json()
    assert report["header_row"] == 2 and report["ok_rows"] == 1 and report["bad_rows"] == 3
    found = {(e["row"], e["column"]) for e in report["errors"]}
    assert (4, "沟通日期") in found                            # sheet rows: title 1, header 2, data 3…
    assert {(5, "沟通渠道"), (5, "优先级")} <= found
    assert {(6, "客户姓名/公司"), (6, "客户需求描述"), (6, "负责人"), (6, "处理结果")} <= found
    assert all(e["reason"] for e in report["errors"])

    stored = upload(api, xlsx_bytes(rows, title_row="客户需求记录表"), "bad.xlsx").json()
    assert stored["imported"] == 1 and stored["bad_rows"] == 3   # good rows stored, bad ones reported
    assert api.get("/api/v1/cases").json()["total"] == 1


def test_after_sales_layout_imports_with_its_own_taxonomy(api):
    add_demo_staff(api)
    for code in ("技术故障", "功能咨询"):
        assert api.post("/api/v1/taxonomy/type", role="admin", json={"code": code, "name": code}).status_code == 201
    row = {"问题编号": "SH-0099", "发生时间": "2024-05-20 16:20", "客户名称": "苏州恒达电子有限公司",
           "联系方式": "0512-66881234", "产品名称": "智能门锁", "功能模块": "指纹识别", "版本号": "V3.0",
           "问题类型": "技术故障", "严重程度": "高", "问题描述": "门锁升级V3.0后指纹识别失败率高。早上无法开门",
           "问题分析过程": "固件阈值过高", "根本原因": "产品设计缺陷", "临时方案": "回退到V2.9", "解决方案": "V3.0.1 调整阈值",
           "解决版本": "V3.0.1", "处理状态": "已关闭", "负责人": "zhangmin", "解决时间": "2024-05-21 10:00",
           "客户满意度": "4", "客户反馈": "", "备注": ""}
    content = csv_bytes([[row[h] for h in AFTER_SALES_HEADERS]], headers=AFTER_SALES_HEADERS)
    resp = upload(api, content, "售后问题库.csv")
    report = resp.json()
    assert report.get("imported") == 1, report["errors"]
    case = api.get(f"/api/v1/cases/{report['numbers'][0]}").json()
    assert case["subject"] == "门锁升级V3.0后指纹识别失败率高" and case["type"] == "技术故障"
    assert case["solution_perm"] == "V3.0.1 调整阈值" and case["satisfaction"] == "满意"
    assert case["resolved_at"].startswith("2024-05-21T10:00") and case["status"] == "已关闭"
    assert "原问题编号 SH-0099" in case["notes"]


def test_a_file_without_the_required_columns_is_a_422_naming_the_file(api):
    resp = upload(api, "名称,地址\n张三,北京\n".encode(), "x.csv")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "file"
    resp = upload(api, csv_bytes([], headers=("序号", "沟通日期", "沟通渠道", "客户ID")), "x.csv")
    assert resp.status_code == 422 and "缺少必需的列" in resp.json()["detail"]
    assert upload(api, b"\x00\x01garbage", "x.pdf").status_code == 422
    assert upload(api, b"PK\x03\x04broken zip", "x.xlsx").status_code == 422


def _sheet_past_the_checked_bytes(tail: bytes, encoding: str = "utf-8-sig") -> bytes:
    """A valid header and one valid row, then rows of padding so that a character (or ``tail``)
    straddles the byte where the upload's check stops decoding."""
    from kb.cases.sheet_import import HEADER_CHECK_BYTES

    row = list(SERVICE_EXAMPLES[0])
    head = csv_bytes([row], encoding=encoding)
    pad = HEADER_CHECK_BYTES - len(head) - 1          # the next byte is the cut's last one
    return head + b"#\n" * (pad // 2) + b"#" * (pad % 2) + tail


def test_a_large_csv_is_checked_from_its_first_bytes_even_when_a_character_straddles_the_cut():
    from kb.cases import sheet_import

    content = _sheet_past_the_checked_bytes("客户需求\n".encode())      # 3 bytes each: 客 is cut after 1
    sheet_import.check_upload(content, "大表.csv")                      # no encoding error, header found
    gbk = _sheet_past_the_checked_bytes("客户需求\n".encode("gbk"), encoding="gbk")
    sheet_import.check_upload(gbk, "大表.csv")
    # what lies past the start is the job's to read: the check answers without decoding it
    sheet_import.check_upload(_sheet_past_the_checked_bytes(b"#\n#\xff\xfe\xff\n"), "大表.csv")


def test_bad_bytes_past_the_checked_start_fail_the_import_job_with_the_encoding_named(api):
    """The upload's check decodes only the start (a whole 24 MB sheet held the web worker's GIL
    ~70 ms); the job decodes all of it and refuses the file as the check would have."""
    resp = upload(api, _sheet_past_the_checked_bytes(b"#\n#\xff\xfe\xff\n"), "大表.csv")
    assert resp.status_code == 422, resp.text
    assert "编码" in resp.json()["detail"]
    assert api.get("/api/v1/cases", params={"page_size": 1}).json()["total"] == 0


def test_import_streams_progress_lines_then_the_report(api):
    add_demo_staff(api)
    rows = [[str(i), "2024-05-21", f"{8 + i // 60:02d}:{i % 60:02d}", "电话", f"客户{i}", "", "", f"咨询发票{i}",
             "想了解电子发票如何开具", "咨询", "中", "待处理", "", "", "", "", ""] for i in range(450)]
    resp = api.client.post("/api/v1/cases/import", files={"file": ("big.csv", csv_bytes(rows), "text/csv")},
                           headers={**api.as_("agent"), "Accept": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in resp.text.splitlines()]
    phases = [(x["phase"], x["done"]) for x in lines if "phase" in x]
    # progress is sampled from the job row (a fast check phase may pass unseen): it never goes
    # back, checking comes before storing, and the stored count ends at the total
    assert phases[-1] == ("store", 450)
    assert phases == sorted(phases, key=lambda p: (p[0] == "store", p[1]))
    assert lines[-1]["report"]["imported"] == 450
    assert api.get("/api/v1/cases").json()["total"] == 450


def test_export_is_the_filtered_list_redacted_in_csv_and_xlsx(api):
    api.post("/api/v1/cases", json=case_payload())
    api.post("/api/v1/cases", json=case_payload(type="咨询", priority="低", subject="咨询发票开具"))
    resp = api.get("/api/v1/cases/export?format=csv&type=投诉", role="analyst")
    assert resp.status_code == 200 and resp.headers["x-total-count"] == "1"
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][0] == "问题编号" and len(rows) == 2
    text = resp.content.decode("utf-8-sig")
    assert "13812345678" not in text and "13912345678" not in text and "138****5678" in text
    book = load_workbook(io.BytesIO(api.get("/api/v1/cases/export?format=xlsx").content))
    assert book.active.max_row == 3
    assert api.get("/api/v1/cases/export?format=pdf").status_code == 422
    assert api.get("/api/v1/cases/export", role="knowledge_manager").status_code == 403


def test_the_exported_sheet_imports_back_as_new_cases(api):
    """Round trip: what we write, we read (the export's extra columns are ignored or mapped)."""
    api.post("/api/v1/cases", json=case_payload())
    content = api.get("/api/v1/cases/export?format=xlsx").content
    report = upload(api, content, "export.xlsx", dry_run=True).json()
    assert report["bad_rows"] == 1 and "已导入过" in report["errors"][0]["reason"]   # it is the same case


def test_rows_are_checked_without_the_write_lock_and_rechecked_inside_it(api, rules):
    """The import checks in a read transaction; a case stored by another writer between the
    check and the store is still refused as a duplicate, and nothing else is lost."""
    from kb.cases import sheet_import

    add_demo_staff(api)
    table = sheet_import.read_table(csv_bytes(SERVICE_EXAMPLES), "需求记录表.csv")
    with make_session(api.engine) as s:
        checks = sheet_import.check_rows(s, table, tz=rules.clock.tz)
    assert [c.errors for c in checks] == [[], [], []]
    first = checks[0]
    with make_session(api.engine, write=True) as s:              # another writer, in between
        sheet_import.store_chunk(s, [first], actor="other", rules=rules, source="另一个导入")
        s.commit()
    with make_session(api.engine, write=True) as s:
        numbers = list(sheet_import.store_chunk(s, checks, actor="u_agent", rules=rules, source="导入").values())
        s.commit()
    assert len(numbers) == 2 and "已导入过" in first.errors[0]["reason"]
    assert api.get("/api/v1/cases?page_size=1").json()["total"] == 3


def test_a_chunk_prepared_before_the_write_transaction_is_stored_the_same_with_only_inserts_inside_it(
        api, rules, monkeypatch):
    """An import makes its cases (masking, redaction, routing, SLA) in a read session, so its
    write transaction — SQLite's lock, which every agent's save waits for — only inserts. The
    cases stored that way are the cases the one-step path stores."""
    from kb.cases import service, sheet_import

    add_demo_staff(api)
    rows = [list(r) for r in SERVICE_EXAMPLES]
    rows[0][8] += "，回电13912345678"
    table = sheet_import.read_table(csv_bytes(rows), "需求记录表.csv")
    with make_session(api.engine) as s:
        checks = sheet_import.check_rows(s, table, tz=rules.clock.tz)
    with make_session(api.engine) as s:
        prepared = sheet_import.prepare_chunk(s, checks, actor="u_agent", rules=rules)
        assert not s.new and not s.dirty                      # nothing to write in the read session
    assert sorted(prepared) == [c.row for c in checks] and all(c.number is None for c in prepared.values())

    def no_cpu_work_here(*args, **kwargs):
        raise AssertionError("redaction inside the write transaction")

    monkeypatch.setattr(service, "redact_text", no_cpu_work_here)
    with make_session(api.engine, write=True) as s:
        numbers = sheet_import.store_chunk(s, checks, actor="u_agent", rules=rules, source="导入", prepared=prepared)
        s.commit()
    monkeypatch.undo()
    assert len(set(numbers.values())) == 3
    stored = [api.get(f"/api/v1/cases/{numbers[c.row]}").json() for c in checks]
    assert stored[0]["description"].endswith("回电[手机号]")
    assert stored[1]["contact_masked"] != "zhang.san@yunfan.com" and stored[1]["group"]
    assert stored[1]["resolution_due_at"] and stored[0]["status"] == "已解决"

    rows = [[*r[:4], f"{r[4]}（另一次）", *r[5:]] for r in rows]            # the same rows, one step
    table = sheet_import.read_table(csv_bytes(rows), "需求记录表.csv")
    with make_session(api.engine, write=True) as s:
        again = sheet_import.check_rows(s, table, tz=rules.clock.tz)
        one_step = sheet_import.store_chunk(s, again, actor="u_agent", rules=rules, source="导入")
        s.commit()
    fields = ("description", "contact_masked", "group", "status", "priority", "response_due_at", "resolution_due_at",
              "resolved_at", "first_response_at", "sla_explanation", "owner")
    for c, first in zip(again, stored, strict=True):
        other = api.get(f"/api/v1/cases/{one_step[c.row]}").json()
        assert {f: other[f] for f in fields} == {f: first[f] for f in fields}


def test_rows_imported_as_resolved_have_a_resolution_and_a_response_time(api):
    """A sheet says 已解决 but has no 解决时间 column: the case must not read 尚未响应 / unresolved."""
    add_demo_staff(api)
    rows = [("1", "2024-05-22", "09:10", "在线客服", "孙先生", "", "", "发票查询", "上月电子发票没有收到", "咨询", "低",
             "已解决", "李伟", "", "已重新发送到邮箱", "满意", ""),
            ("2", "2024-05-22", "10:20", "电话", "钱女士", "", "", "咨询套餐", "想了解200M宽带套餐资费", "咨询", "中",
             "待处理", "", "", "", "", "")]
    report = upload(api, csv_bytes(rows), "records.csv").json()
    assert report["imported"] == 2, report
    resolved = api.get(f"/api/v1/cases/{report['numbers'][0]}").json()
    assert resolved["status"] == "已解决"
    assert resolved["resolved_at"].startswith("2024-05-22T09:10")          # the sheet gives no time: its contact time
    assert resolved["first_response_at"].startswith("2024-05-22T09:10")
    assert "表格" in resolved["sla_explanation"].get("resolved_source", "")
    pending = api.get(f"/api/v1/cases/{report['numbers'][1]}").json()
    assert pending["resolved_at"] is None and pending["first_response_at"] is None


def test_imports_waiting_for_their_jobs_hold_no_handler_thread(api):
    """Each waiting import used to hold one of the worker's few threads for the import's length:
    more waiting imports than threads, and an agent's save still runs."""
    from concurrent.futures import ThreadPoolExecutor

    from api.jobs import JobWorker
    from kb.models import Job
    from sqlmodel import func, select
    from tests.conftest import wait_for

    app = api.client.app
    app.state.jobs.stop()                               # the jobs stay queued: their requests wait
    add_demo_staff(api)
    n = app.state.settings.threads + 1
    sheets = [csv_bytes([["1", "2024-05-21", "09:00", "电话", f"客户{k}", "", "", f"咨询发票{k}",
                          "想了解电子发票如何开具", "咨询", "中", "待处理", "", "", "", "", ""]]) for k in range(n)]

    def queued() -> int:
        with make_session(api.engine) as s:
            return s.exec(select(func.count()).select_from(Job).where(Job.status == "queued")).one()

    with ThreadPoolExecutor(n) as pool:
        waiting = [pool.submit(upload, api, sheet, f"s{k}.csv") for k, sheet in enumerate(sheets)]
        assert wait_for(lambda: queued() == n, timeout=20), "the imports were not all queued"
        saved = api.post("/api/v1/cases", json=case_payload())
        assert saved.status_code == 201, saved.text
        assert not any(f.done() for f in waiting)
        app.state.jobs = JobWorker(api.engine, app.state.settings, app.state.index, poll_seconds=0.1)
        app.state.jobs.start()
        assert [f.result(60).json()["imported"] for f in waiting] == [1] * n
