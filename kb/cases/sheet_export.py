"""Spreadsheet export of a filtered case list (CSV with a BOM so Excel opens it as UTF-8,
or XLSX), and the blank import template. Free text is redacted again on the way out, so
an export never carries a phone or card number even where text is stored unredacted.

Every text cell goes through ``safe_cell``: supervisors open these files in Excel and WPS,
so a customer's words must never become a formula (OWASP "CSV injection"). A cell that
starts with = + - @, a tab or a carriage return (or their full-width forms) is prefixed with
an apostrophe, which both show as text; XLSX cells are written as explicit strings, never
formulas, and without the control characters the XLSX format cannot hold. Import keeps
text literally, so the prefix is visible there as the sign that the cell was neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kb.cases.sheet_layout import EXPORT_COLUMNS, SERVICE_EXAMPLES, SERVICE_HEADERS
from kb.models import Case
from kb.privacy import redact_text

FREE_TEXT = {"subject", "description", "analysis", "root_cause", "solution_temp", "solution_perm", "result",
             "feedback", "notes"}


def case_row(case: Case, tz) -> list[Any]:
    local = case.contact_at.astimezone(tz)
    row: list[Any] = []
    for _, attr in EXPORT_COLUMNS:
        if attr == "contact_date":
            value: Any = local.strftime("%Y-%m-%d")
        elif attr == "contact_time":
            value = local.strftime("%H:%M")
        else:
            value = getattr(case, attr)
        if isinstance(value, datetime):
            value = value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        elif hasattr(value, "value"):
            value = value.value
        elif attr in FREE_TEXT:
            value = redact_text(value)
        row.append("" if value is None else value)
    return row


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")   # openpyxl refuses these


def safe_cell(value: Any) -> Any:
    """A value that a spreadsheet shows as typed: text that would start a formula is prefixed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_headers() -> list[str]:
    return [h for h, _ in EXPORT_COLUMNS]


def to_csv(headers: list[str], rows: Iterable[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_cell(h) for h in headers])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(headers: list[str], rows: Iterable[list[Any]], *, title: str = "问题记录") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for i, h in enumerate(headers):
        width = 28 if h in ("客户需求描述", "问题描述", "处理结果", "解决方案", "临时方案", "问题分析过程") else 14
        sheet.column_dimensions[_column_letter(i)].width = width
    from openpyxl.cell import WriteOnlyCell

    header_cells = []
    for h in headers:
        cell = WriteOnlyCell(sheet, value=h)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_string_cell(sheet, v) for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _string_cell(sheet, value: Any):
    """Text as an explicit string cell (data type "s": never parsed as a formula), neutralised
    and stripped of what XLSX cannot hold; numbers stay numbers."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=safe_cell(_XLSX_ILLEGAL.sub("", value)))
    cell.data_type = "s"          # openpyxl types text starting with "=" as a formula: not here
    return cell


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def template(fmt: str) -> bytes:
    """The service template (需求记录表) with its three example rows."""
    rows = [list(r) for r in SERVICE_EXAMPLES]
    if fmt == "xlsx":
        return to_xlsx(list(SERVICE_HEADERS), rows, title="需求记录表")
    return to_csv(list(SERVICE_HEADERS), rows)
