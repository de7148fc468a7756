"""Hostile uploads built in well under a second: zip bombs whose members inflate to a gigabyte
from about a megabyte, written by hand so that building one never inflates anything either.

A deflate stream of ``Z_FULL_FLUSH``ed blocks can be repeated (each block stands alone), so
one compressed megabyte of zeros, repeated, is a valid stream of any length."""

from __future__ import annotations

import io
import json
import struct
import sys
import time
import zipfile
import zlib
from pathlib import Path

MB = 1024 * 1024


def _zeros_stream(megabytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``megabytes`` MB of zeros and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * MB
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return block * megabytes + c.flush(), crc


def zip_of(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of raw-deflated members (name, deflate stream, inflated size, crc) — what
    zipfile would write, without inflating or deflating anything here."""
    out, central = io.BytesIO(), []
    for name, data, size, crc in members:
        raw_name = name.encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size,
                              len(raw_name), 0))
        out.write(raw_name + data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                                   len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start,
                          start, 0))
    return out.getvalue()


def zip_bomb(name: str = "bomb.md", megabytes: int = 1024) -> bytes:
    data, crc = _zeros_stream(megabytes)
    return zip_of([(name, data, megabytes * MB, crc)])


def zip_lying_about_size(name: str = "small.md", megabytes: int = 256) -> bytes:
    """The directory says 100 bytes; the stream holds ``megabytes`` MB."""
    data, _ = _zeros_stream(megabytes)
    return zip_of([(name, data, 100, zlib.crc32(b"\0" * 100))])


def xlsx_with_bomb(sheet_xlsx: bytes, megabytes: int = 1024) -> bytes:
    """A real workbook with one more part that inflates to ``megabytes`` MB."""
    members = []
    with zipfile.ZipFile(io.BytesIO(sheet_xlsx)) as zf:
        for info in zf.infolist():
            content = zf.read(info)
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            members.append((info.filename, c.compress(content) + c.flush(), len(content), zlib.crc32(content)))
    data, crc = _zeros_stream(megabytes)
    members.append(("xl/media/image1.bin", data, megabytes * MB, crc))
    return zip_of(members)


def zip_of_many(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            zf.writestr(f"faq/{i:05d}.md", "")
    return buf.getvalue()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def read_and_measure(path: Path, kind: str) -> dict:
    """Read one upload as the import routes do (``kind`` "md": an article zip; "sheet": a case
    sheet): the outcome, the seconds and the peak RSS growth in kB. Run it in a fresh process
    (``python -m tests.hostile_files PATH KIND``) so that the peak is this read's own."""
    from kb.articles import markdown_io
    from kb.cases import sheet_import
    from kb.errors import DomainError

    raw = path.read_bytes()
    with open("/proc/self/clear_refs", "w") as f:   # resets the peak (VmHWM) to the current RSS
        f.write("5")
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    try:
        if kind == "md":
            result = f"read {len(markdown_io.unpack(path.name, raw))} files"
        else:
            result = f"read {len(sheet_import.read_table(raw, path.name).rows)} rows"
    except DomainError as exc:
        result = f"refused: {type(exc).__name__}"
    return {"result": result, "seconds": time.perf_counter() - started, "rss_kb": _status_kb("VmHWM") - before}


if __name__ == "__main__":
    print(json.dumps(read_and_measure(Path(sys.argv[1]), sys.argv[2])))
