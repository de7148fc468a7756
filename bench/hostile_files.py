"""How fast and in how much memory hostile uploads are refused, each read in a fresh process
(so its peak RSS is its own): a 1 GB zip bomb of Markdown, an XLSX carrying a 1 GB part, an
archive of 6,000 files, a CSV padded with a million empty rows. Baseline, same run: reading a
real 2,000-row XLSX built from TipDM messages — what an honest import of that size costs.

Target: every hostile file refused (413/422 in the API) in ≤ 2 s with peak RSS growth
≤ 100 MB; the honest sheet read in full.

    .venv/bin/python bench/hostile_files.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, finish, read_tsv

from kb.cases.sheet_layout import SERVICE_HEADERS


def honest_xlsx(rows: int) -> bytes:
    import io

    from openpyxl import Workbook

    frame = read_tsv("tipdm2020_gov_messages/messages_with_replies.tsv")
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(SERVICE_HEADERS))
    for i, (topic, detail) in enumerate(zip(frame["topic"][:rows], frame["detail"][:rows], strict=True)):
        sheet.append([i + 1, "2024-05-21", "09:15", "电话", f"市民{i}", "", "", topic[:200], detail[:5000], "咨询", "中",
                      "待处理", "", "", "", "", ""])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.api.test_import_export import csv_bytes
    from tests.hostile_files import xlsx_with_bomb, zip_bomb, zip_of_many

    row = ["1", "2024-05-21", "09:15", "电话", "客户", "", "", "主题", "描述", "咨询", "中", "待处理", "", "", "", "", ""]
    honest = honest_xlsx(2000)
    files = [
        ("honest 2,000-row XLSX (baseline)", "sheet", "honest.xlsx", honest),
        ("1 GB zip bomb of Markdown", "md", "faq.zip", zip_bomb("faq/bomb.md")),
        ("XLSX with a 1 GB part", "sheet", "bomb.xlsx", xlsx_with_bomb(honest)),
        ("zip of 6,000 files", "md", "many.zip", zip_of_many(6000)),
        ("CSV + 1,000,000 empty rows", "sheet", "padded.csv",
         csv_bytes([row]) + b",\r\n" * 1_000_000),
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, kind, name, raw in files:
            path = Path(tmp) / name
            path.write_bytes(raw)
            out = subprocess.run([sys.executable, "-m", "tests.hostile_files", str(path), kind], cwd=ROOT,
                                 capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            if out.returncode:
                results.append((label, len(raw), {"result": f"crashed: {out.stderr[-200:]}", "seconds": float("nan"),
                                                  "rss_mb": float("nan")}))
            else:
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                results.append((label, len(raw), {**figures, "rss_mb": figures["rss_kb"] / 1024}))
    print(f"machine: {os.cpu_count()} cores")
    print(f"{'file':34s} {'upload MB':>9s} {'s':>6s} {'RSS +MB':>8s}  result")
    for label, size, r in results:
        print(f"{label:34s} {size / 1e6:9.1f} {r['seconds']:6.2f} {r['rss_mb']:8.1f}  {r['result']}")
    base = results[0][2]
    hostile = [r for _, _, r in results[1:]]
    padded_ok = results[-1][2]["result"] == "read 1 rows"
    ok = (base["result"] == "read 2000 rows" and padded_ok
          and all(r["result"].startswith("refused") for r in hostile[:-1])
          and all(r["seconds"] <= 2 and r["rss_mb"] <= 100 for r in hostile))
    worst = max(hostile, key=lambda r: r["seconds"])
    finish(ok, f"hostile files refused in ≤ {worst['seconds']:.2f} s, RSS growth ≤ "
               f"{max(r['rss_mb'] for r in hostile):.0f} MB; honest 2,000-row XLSX read in {base['seconds']:.2f} s "
               f"(+{base['rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
