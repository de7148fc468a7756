"""Spreadsheet import (CSV in UTF-8 or GBK, XLSX) in the service desk's own layouts.

Three steps, so a dry run and a real import report exactly the same rows:
``read_table`` finds the header row and the cells; ``check_rows`` turns every row into a
validated ``CaseImport`` or a list of (column, reason) problems; ``store_chunk`` writes a
chunk of good rows (numbered, masked, redacted, routed, SLA, history, search outbox) in the
caller's transaction — ``kb.cases.import_job`` runs the three as a job, in short transactions."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from kb import archives
from kb.cases import service
from kb.cases.sheet_layout import HEADER_FIELDS
from kb.errors import FieldError, TooLarge
from kb.models import Case, CaseImport, CaseStatus, CustomerKind, Satisfaction, User
from kb.privacy import redact_text
from kb.sla import ChineseWorkCalendar
from kb.taxonomy import CASE_CODE_KINDS, active_codes_with_groups

MAX_ROWS = 20_000      # the largest import holds the write lock ~10 s (bench/import_speed.py), well inside
                       # the 30 s other writers wait (kb.db.SQLITE_BUSY_SECONDS)
MAX_BYTES = 50 * 1024 * 1024
REQUIRED_FIELDS = ("customer_name", "description", "type", "priority")
DEFAULT_CHANNEL = "其他"   # after-sales sheets record no channel
HEADER_SCAN_ROWS = 10
HEADER_CHECK_BYTES = 256 * 1024      # the upload's check reads this much (ten rows fit many times)
MAX_COLUMNS = 64       # every layout has fewer than 30 columns
BLANK_ROW_RUN = 1000   # this many empty rows in a row end the data (sheets pad to a million styled rows)
CHECK_BATCH = 500      # rows checked between two breathers (check_rows)
READ_BATCH = 2000      # rows read between two breathers (read_table)
ENTERPRISE_MARKERS = ("公司", "集团", "有限", "银行", "医院", "学校", "大学", "中心", "工厂", "厂", "局", "商行",
                      "事务所", "研究院", "协会")
RESOLVED = (CaseStatus.resolved, CaseStatus.closed)
Progress = Callable[[str, int, int], None]


@dataclass
class Table:
    headers: list[str]            # as written in the sheet (stripped)
    rows: list[tuple[int, list[Any]]]   # (sheet row number, cells)
    header_row: int
    fields: dict[int, str]        # column index → import field
    ignored: list[str]
    stopped_at: int | None = None  # the row where reading stopped after BLANK_ROW_RUN empty rows


@dataclass
class RowCheck:
    row: int
    data: CaseImport | None = None
    owner: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    key: tuple | None = None

    def error(self, column: str, reason: str, field_name: str = "") -> None:
        self.errors.append({"row": self.row, "column": column, "field": field_name, "reason": reason})


# ---------------------------------------------------------------- reading

def read_table(content: bytes, filename: str, *, encoding: str | None = None,
               breather: Callable[[], None] | None = None) -> Table:
    """Cells of the first sheet (XLSX) or of the CSV, below the header row.

    CSV encodings: UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK and
    GB2312, what Excel on a Chinese Windows writes), unless ``encoding`` is given.
    ``breather()`` is called after every ``READ_BATCH`` rows read: parsing a 24 MB CSV is
    ~0.25 s of a core in one piece (an XLSX far more), which a busy node felt as one slow second."""
    if _kind(content, filename) == "xlsx":
        grid = _xlsx_rows(content)
    else:
        grid = _csv_rows(_decode(content, encoding))
    return _find_header(grid, breather)


def check_upload(content: bytes, filename: str, *, encoding: str | None = None) -> None:
    """What an upload's first bytes and rows can tell, checked before a job is queued: its size,
    type, a CSV's encoding and header row. A wrong file is answered at once instead of after
    every job ahead of it in the queue (an XLSX is opened only by the job: inflating it is not
    quick). Only the first ``HEADER_CHECK_BYTES`` are decoded: the whole of a 24 MB sheet took
    the web worker ~70 ms holding the GIL (its other requests waited); the job decodes it all."""
    if _kind(content, filename) == "csv":
        whole = len(content) <= HEADER_CHECK_BYTES
        text = _decode(content if whole else content[:HEADER_CHECK_BYTES], encoding, final=whole)
        _find_header(itertools.islice(_csv_rows(text), HEADER_SCAN_ROWS))


def _kind(content: bytes, filename: str) -> str:
    if len(content) > MAX_BYTES:
        raise TooLarge("file", f"文件超过 {MAX_BYTES // (1024 * 1024)} MB，请拆分后导入")
    if not content or content.isspace():         # (strip() would copy up to MAX_BYTES to find out)
        raise FieldError("file", "文件是空的")
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or content[:4] == b"PK\x03\x04":
        return "xlsx"
    if name.endswith((".csv", ".txt")) or not name:
        return "csv"
    raise FieldError("file", "只支持 .csv（UTF-8 或 GBK）和 .xlsx 文件")


def _decode(content: bytes, encoding: str | None, *, final: bool = True) -> str:
    """``final=False``: ``content`` is a file's first bytes, which may end inside a character."""
    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in candidates:
        try:
            return content.decode(enc) if final else codecs.getincrementaldecoder(enc)().decode(content)
        except (UnicodeDecodeError, LookupError):
            continue
    raise FieldError("file", "无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV" if not encoding
                     else f"文件不是 {encoding} 编码")


def _csv_rows(text: str) -> Iterable[list[Any]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for cells in reader:
            yield cells[:MAX_COLUMNS]
    except csv.Error as exc:   # e.g. a field beyond csv.field_size_limit, a NUL byte
        raise FieldError("file", f"CSV 第 {reader.line_num} 行无法读取：{exc}") from exc


def _xlsx_rows(content: bytes) -> Iterable[list[Any]]:
    from openpyxl import load_workbook

    archives.check_archive(content, field="file", name="XLSX 文件")    # openpyxl inflates by itself
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise FieldError("file", f"无法读取 XLSX 文件：{type(exc).__name__}") from exc
    # a sheet's declared dimension can claim 16,384 columns: read no further than any layout reaches
    return _xlsx_cells(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS))


def _xlsx_cells(rows: Iterable[tuple[Any, ...]]) -> Iterable[list[Any]]:
    try:
        for r in rows:
            yield list(r)
    except FieldError:
        raise
    except Exception as exc:  # damaged sheet XML found while streaming
        raise FieldError("file", f"无法读取 XLSX 文件：{type(exc).__name__}") from exc


def _find_header(grid: Iterable[list[Any]], breather: Callable[[], None] | None = None) -> Table:
    """The header row is the first of the top rows naming at least three known columns (sheets
    often carry a title such as 客户需求记录表 above it)."""
    it = iter(grid)
    header: list[str] | None = None
    header_row = 0
    for number, cells in enumerate(it, start=1):
        names = [_header_name(c) for c in cells]
        if sum(1 for n in names if n in HEADER_FIELDS) >= 3:
            header, header_row = names, number
            break
        if number >= HEADER_SCAN_ROWS:
            break
    if header is None:
        raise FieldError("file", "找不到表头行：前 10 行中没有包含 沟通日期、沟通渠道、客户需求描述 等列名的行")
    fields: dict[int, str] = {}
    ignored = []
    for i, name in enumerate(header):
        if not name:
            continue
        target = HEADER_FIELDS.get(name)
        if target is None or target in fields.values():
            ignored.append(name)
        else:
            fields[i] = target
    missing = [f for f in REQUIRED_FIELDS if f not in fields.values()]
    if missing:
        wanted = {v: k for k, v in reversed(HEADER_FIELDS.items())}
        raise FieldError("file", "缺少必需的列：" + "、".join(wanted[m] for m in missing))
    if not ({"contact_date", "contact_datetime"} & set(fields.values())):
        raise FieldError("file", "缺少必需的列：沟通日期（或 发生时间）")
    rows = []
    blank_run = 0
    stopped_at = None
    for number, cells in enumerate(it, start=header_row + 1):
        if all(_blank(c) for c in cells):
            blank_run += 1
            if blank_run >= BLANK_ROW_RUN:    # the data has ended; the rest is formatting or padding
                stopped_at = number
                break
            continue
        blank_run = 0
        rows.append((number, list(cells)))
        if len(rows) > MAX_ROWS:
            raise TooLarge("file", f"超过 {MAX_ROWS} 行，请拆分后导入")
        if breather is not None and len(rows) % READ_BATCH == 0:
            breather()
    return Table(headers=header, rows=rows, header_row=header_row, fields=fields, ignored=ignored,
                 stopped_at=stopped_at)


def _header_name(cell: Any) -> str:
    return re.sub(r"[\s*＊]", "", str(cell)) if cell is not None else ""


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# ---------------------------------------------------------------- checking

class _Context:
    """What every row is checked against, read once per file."""

    def __init__(self, session: Session) -> None:
        self.codes = active_codes_with_groups(session, CASE_CODE_KINDS)    # kind → active code → group
        users = session.exec(select(User.username, User.display_name).where(User.active == True)).all()
        self.owners = {u: u for u, _ in users} | {d: u for u, d in users}
        self.calendar = ChineseWorkCalendar()


def check_rows(session: Session, table: Table, *, tz, progress: Progress | None = None,
               own: frozenset[str] = frozenset(), breather: Callable[[], None] | None = None) -> list[RowCheck]:
    """Every row checked; ``own``: numbers an interrupted run of the same import stored already
    (they are that import's progress, not duplicates). ``breather()`` is called after every
    ``CHECK_BATCH`` rows but the last, with no read transaction held: a large import's check is
    seconds of CPU, and on a busy node the job worker waits there for the agents
    (``api.pacing``) as it does between the chunks it stores."""
    ctx = _Context(session)
    header_of = {f: table.headers[i] for i, f in table.fields.items()}
    checks: list[RowCheck] = []
    total = len(table.rows)
    for n, (number, cells) in enumerate(table.rows, start=1):
        values = {f: (cells[i] if i < len(cells) else None) for i, f in table.fields.items()}
        checks.append(_check_row(number, values, header_of, ctx))
        if progress and (n % 200 == 0 or n == total):
            progress("check", n, total)
        if breather is not None and n % CHECK_BATCH == 0 and n < total:
            session.commit()          # ends the read transaction: a pause must not pin the WAL
            breather()
    _mark_duplicates(session, checks, tz, own)
    return checks


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _check_row(number: int, raw: dict[str, Any], header_of: dict[str, str], ctx: _Context) -> RowCheck:
    check = RowCheck(row=number)
    col = header_of.get
    data: dict[str, Any] = {}
    for name in ("channel", "customer_name", "customer_id", "industry", "contact", "subject", "description",
                 "order_number", "product", "module", "product_version", "emotion", "type", "priority",
                 "analysis", "root_cause", "solution_temp", "solution_perm", "result", "fixed_in_version",
                 "feedback", "notes", "source_number"):
        if name in raw:
            data[name] = _text(raw[name])

    contact_at = _contact_at(raw, check, col)
    if contact_at is not None:
        data["contact_at"] = contact_at

    if "channel" not in header_of:
        data["channel"] = DEFAULT_CHANNEL
    for name in (*REQUIRED_FIELDS, "channel"):
        if not data.get(name):
            check.error(col(name, name), "必填，不能为空", name)
    if not data.get("subject") and data.get("description"):
        data["subject"] = _subject_from(data["description"])
    for name, kind in (("type", "type"), ("priority", "priority"), ("channel", "channel"), ("emotion", "emotion")):
        value = data.get(name)
        if value and value not in ctx.codes[kind]:
            check.error(col(name, name), f"「{value}」不是启用的选项；可选：{'、'.join(sorted(ctx.codes[kind]))}", name)

    kind = _text(raw.get("customer_kind"))
    if kind:
        if kind not in {k.value for k in CustomerKind}:
            check.error(col("customer_kind"), "客户类型应为 个人客户 或 企业客户", "customer_kind")
        else:
            data["customer_kind"] = kind
    elif data.get("customer_name"):
        data["customer_kind"] = (CustomerKind.enterprise if any(m in data["customer_name"] for m in ENTERPRISE_MARKERS)
                                 else CustomerKind.individual)

    status_text = _text(raw.get("status"))
    status = CaseStatus.pending
    if status_text:
        try:
            status = CaseStatus(status_text)
        except ValueError:
            check.error(col("status"), f"「{status_text}」不是处理状态；可选：{'、'.join(s.value for s in CaseStatus)}",
                        "status")
    data["status"] = status

    owner_text = _text(raw.get("owner"))
    if owner_text:
        check.owner = ctx.owners.get(owner_text)
        if check.owner is None:
            check.error(col("owner"), f"负责人「{owner_text}」不是启用的用户（填用户名或姓名）", "owner")

    _satisfaction(raw, data, status, check, col)
    if status in RESOLVED and not (data.get("result") or data.get("solution_temp") or data.get("solution_perm")):
        check.error(col("result", col("solution_perm", "处理结果")), "已解决/已关闭的问题需要处理结果或解决方案", "result")
    if raw.get("resolved_at") is not None and not _blank(raw.get("resolved_at")):
        resolved = _datetime(raw["resolved_at"])
        if resolved is None:
            check.error(col("resolved_at"), f"无法识别的日期时间「{_text(raw['resolved_at'])}」", "resolved_at")
        elif status not in RESOLVED:
            check.error(col("resolved_at"), "未解决的问题不应有解决时间", "resolved_at")
        else:
            data["resolved_at"] = resolved
    if not _blank(raw.get("deadline")) and contact_at is not None:
        due = _deadline(raw["deadline"], contact_at, ctx)
        if due is None:
            check.error(col("deadline"), f"处理时限「{_text(raw['deadline'])}」应为日期时间或时长（如 24小时、3个工作日）",
                        "deadline")
        else:
            data["resolution_due_at"] = due
    tags = _text(raw.get("tags"))
    if tags:
        data["tags"] = [t for t in re.split(r"[,，、;；\s]+", tags) if t][:20]

    if check.errors:
        return check
    try:
        check.data = CaseImport.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e["loc"][0]) if e.get("loc") else ""
            check.error(col(name, name), _reason(e), name)
        return check
    check.key = (check.data.customer_name, check.data.contact_at.replace(tzinfo=None),
                 redact_text(check.data.subject))
    return check


def _reason(error: dict) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"太长：最多 {ctx.get('max_length')} 个字符"
    if kind == "string_too_short":
        return f"太短：至少 {ctx.get('min_length')} 个字符"
    return str(error.get("msg", "无效"))


def _subject_from(description: str) -> str:
    first = re.split(r"[。！？!?\n；;]", description, maxsplit=1)[0].strip()
    return (first or description)[:40]


def _contact_at(raw: dict[str, Any], check: RowCheck, col) -> datetime | None:
    if not _blank(raw.get("contact_datetime")):
        value = _datetime(raw["contact_datetime"])
        if value is None:
            check.error(col("contact_datetime"), f"无法识别的日期时间「{_text(raw['contact_datetime'])}」",
                        "contact_at")
        return _in_range(value, check, col("contact_datetime"))
    if _blank(raw.get("contact_date")):
        check.error(col("contact_date", "沟通日期"), "必填，不能为空", "contact_at")
        return None
    day = _date(raw["contact_date"])
    if day is None:
        check.error(col("contact_date"), f"无法识别的日期「{_text(raw['contact_date'])}」（例：2024-05-21）",
                    "contact_at")
        return None
    at = time(0)
    if not _blank(raw.get("contact_time")):
        parsed = _time(raw["contact_time"])
        if parsed is None:
            check.error(col("contact_time"), f"无法识别的时间「{_text(raw['contact_time'])}」（例：09:30）",
                        "contact_at")
            return None
        at = parsed
    return _in_range(datetime.combine(day, at), check, col("contact_date"))


def _in_range(value: datetime | None, check: RowCheck, column: str) -> datetime | None:
    if value is not None and not (2000 <= value.year <= 2100):
        check.error(column, "日期超出范围（2000–2100）", "contact_at")
        return None
    return value


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_TIME_RE = re.compile(r"^(\d{1,2})\s*[:：时点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})?\s*秒?)?$")


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value) or ""
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _time(value: Any) -> time | None:
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, timedelta):   # some writers store a bare time as a duration
        minutes = int(value.total_seconds() // 60)
        return time(minutes // 60 % 24, minutes % 60)
    m = _TIME_RE.match(_text(value) or "")
    if not m:
        return None
    try:
        return time(int(m[1]), int(m[2]))
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, date):
        return datetime.combine(value, time(0))
    text = _text(value) or ""
    parts = re.split(r"(?<=[\d日])[\sT]+(?=\d)", text, maxsplit=1)
    day = _date(parts[0])
    if day is None:
        return None
    if len(parts) == 1:
        return datetime.combine(day, time(0))
    at = _time(parts[1].rsplit("+", 1)[0])
    return datetime.combine(day, at) if at else None


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(小时|h|个?工作日|天|日)(?:内)?$", re.IGNORECASE)


def _deadline(value: Any, start: datetime, ctx: _Context) -> datetime | None:
    """处理时限 as a date-time (a date means the end of that day) or a duration from the contact time."""
    text = _text(value) or ""
    m = _DURATION_RE.match(text)
    if m:
        amount, unit = float(m[1]), m[2]
        if unit.lower() in ("小时", "h"):
            return start + timedelta(hours=amount)
        if "工作日" in unit:
            day, left = start.date(), int(amount)
            while left > 0:
                day += timedelta(days=1)
                left -= ctx.calendar.day(day).workday
            return datetime.combine(day, start.time())
        return start + timedelta(days=amount)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(23, 59))
    parsed = _datetime(value)
    if parsed is not None and _DATE_RE.match(text):
        return datetime.combine(parsed.date(), time(23, 59))
    return parsed


def _satisfaction(raw: dict[str, Any], data: dict[str, Any], status: CaseStatus, check: RowCheck, col) -> None:
    words = {s.value: s for s in Satisfaction}
    text = _text(raw.get("satisfaction"))
    feedback = data.get("feedback")
    value: Satisfaction | None = None
    column = col("satisfaction", "客户满意度")
    if text:
        if text in words:
            value = words[text]
        elif re.fullmatch(r"[1-5]", text):
            value = service._score_to_satisfaction(int(text))
            data["satisfaction_score"] = int(text)
        else:
            check.error(column, "满意度应为 满意、基本满意、不满意 或 1–5", "satisfaction")
    elif feedback:
        # the service template has only 客户反馈: a leading 满意/基本满意/不满意 is the rating
        lead = re.match(r"^(基本满意|不满意|满意)", feedback)
        if lead:
            value, column = words[lead[1]], col("feedback", "客户反馈")
    nps = _text(raw.get("nps_score"))
    if nps:
        if re.fullmatch(r"\d{1,2}", nps) and 0 <= int(nps) <= 10:
            data["nps_score"] = int(nps)
        else:
            check.error(col("nps_score"), "NPS 应为 0–10 的整数", "nps_score")
    if (value is not None or data.get("nps_score") is not None) and status not in RESOLVED:
        check.error(column, "未解决的问题不能登记满意度（先改为 已解决）", "satisfaction")
        return
    if value is not None:
        data["satisfaction"] = value


def _mark_duplicates(session: Session, checks: list[RowCheck], tz, own: frozenset[str] = frozenset()) -> None:
    """The same customer, contact minute and subject twice — in the file or already stored —
    is almost always a sheet imported twice; report it instead of doubling the history."""
    seen: dict[tuple, int] = {}
    for c in checks:
        if c.key is None:
            continue
        if c.key in seen:
            c.error("沟通事由", f"与第 {seen[c.key]} 行重复（同一客户、沟通时间、事由）", "subject")
            c.data = None
        else:
            seen[c.key] = c.row
    recheck_stored(session, checks, tz, own)


def recheck_stored(session: Session, checks: list[RowCheck], tz, own: frozenset[str] = frozenset()) -> None:
    """Rows still good that are now stored already. The import checks its rows in a read
    transaction (no write lock while it works) and calls this again inside the writing one,
    so a case another writer stored in between is still refused as a duplicate."""
    keys = [c for c in checks if c.data is not None and c.key is not None]
    for start in range(0, len(keys), 300):
        chunk = keys[start:start + 300]
        # the instants go to the contact_at index: without them the customer/subject pairs
        # scanned the whole table (0.2 s at 120k cases, per chunk, inside the write transaction)
        # (the triples are matched here: a statement OR-ing 300 of them took longer to build
        # than to run, inside the write transaction)
        instants = sorted({c.key[1].replace(tzinfo=tz) for c in chunk})
        names = sorted({c.key[0] for c in chunk})
        stored = {(name, at.astimezone(tz).replace(tzinfo=None), subject): number
                  for name, subject, at, number in session.exec(
                      select(Case.customer_name, Case.subject, Case.contact_at, Case.number)
                      .where(Case.contact_at.in_(instants), Case.customer_name.in_(names)))}
        for c in chunk:
            number = stored.get(c.key)
            if number and number not in own:
                c.error("沟通事由", f"已导入过：与问题 {number} 重复（同一客户、沟通时间、事由）", "subject")
                c.data = None


# ---------------------------------------------------------------- storing

def store_chunk(session: Session, chunk: list[RowCheck], *, actor: str, rules: service.CaseRules, source: str,
                own: frozenset[str] = frozenset(), prepared: dict[int, Case] | None = None) -> dict[int, str]:
    """Store a chunk of good rows in the caller's write transaction (not committed): each row
    is checked again against what is stored now (another writer may have stored it since the
    check), then stored. ``prepared`` (sheet row → case from ``prepare_chunk``, made before the
    write transaction began) leaves only the inserts to do here. Returns sheet row → new case
    number."""
    recheck_stored(session, chunk, rules.clock.tz, own)
    ok = [c for c in chunk if c.data is not None and not c.errors]
    if not ok:
        return {}
    if prepared is None:
        prepared = prepare_chunk(session, ok, actor=actor, rules=rules)
    cases = service.store_imports(session, [prepared[c.row] for c in ok], [f"{source} 第 {c.row} 行" for c in ok],
                                  actor=actor, rules=rules)
    return {c.row: case.number for c, case in zip(ok, cases, strict=True)}


def prepare_chunk(session: Session, chunk: list[RowCheck], *, actor: str, rules: service.CaseRules) -> dict[int, Case]:
    """Sheet row → the case its good row becomes, but for its number (``service.prepare_imports``)."""
    ok = [c for c in chunk if c.data is not None and not c.errors]
    cases = service.prepare_imports(session, [(c.data, c.owner) for c in ok], actor=actor, rules=rules)
    return {c.row: case for c, case in zip(ok, cases, strict=True)}


def report(table: Table, checks: list[RowCheck], *, dry_run: bool, numbers: list[str] | None = None) -> dict:
    errors = [e for c in checks for e in c.errors]
    bad_rows = sorted({e["row"] for e in errors})
    return {
        "dry_run": dry_run,
        "header_row": table.header_row,
        "columns": [h for i, h in enumerate(table.headers) if i in table.fields],
        "ignored_columns": table.ignored,
        "total_rows": len(checks),
        "ok_rows": len(checks) - len(bad_rows),
        "bad_rows": len(bad_rows),
        "errors": errors,
        "imported": len(numbers or []),
        "numbers": numbers or [],
        "stopped_at_row": table.stopped_at,
        "notes": [f"连续 {BLANK_ROW_RUN} 行空白，读到第 {table.stopped_at} 行为止；其后的行未读取"]
                 if table.stopped_at else [],
    }
