"""Zip archives from uploads — a .zip of Markdown articles, and every XLSX, which is a zip —
read within limits while streaming.

A bomb is refused after inflating at most a limit's worth, never inflated first; the sizes a
zip's directory declares can lie, so the bytes actually inflated are what is counted. Limits:
members per archive, inflated bytes per member and in all, and the compression ratio (real
XML and Markdown deflate 5–20×; bombs 1,000× and more). Small members may compress very well
(a sheet of empty styled cells), so the ratio applies only above ``ratio_floor``."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kb.errors import FieldError, TooLarge

MB = 1024 * 1024
CHUNK = 256 * 1024


@dataclass(frozen=True)
class ZipLimits:
    members: int = 5000
    member_bytes: int = 48 * MB
    total_bytes: int = 160 * MB
    ratio: int = 100
    ratio_floor: int = 2 * MB


DEFAULT = ZipLimits()


class _Budget:
    def __init__(self, limits: ZipLimits, field: str, archive_bytes: int) -> None:
        self.limits, self.field, self.archive_bytes, self.used = limits, field, archive_bytes, 0

    def take(self, n: int) -> None:
        self.used += n
        limits = self.limits
        if self.used > limits.total_bytes:
            raise TooLarge(self.field, f"压缩包解压后超过 {limits.total_bytes // MB} MB，已停止读取")
        if self.used > limits.ratio_floor and self.used > limits.ratio * self.archive_bytes:
            raise TooLarge(self.field, f"压缩包压缩比超过 {limits.ratio}:1，疑似压缩炸弹，已拒绝")


def open_archive(raw: bytes, *, field: str, name: str, limits: ZipLimits = DEFAULT) -> zipfile.ZipFile:
    """The archive's directory, checked for the member count (nothing is inflated yet)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise FieldError(field, f"{name} 不是有效的 zip 文件") from exc
    if len(zf.infolist()) > limits.members:
        zf.close()
        raise TooLarge(field, f"压缩包内文件过多（超过 {limits.members} 个）")
    return zf


def read_members(raw: bytes, *, field: str, name: str, wanted: Callable[[str], bool],
                 limits: ZipLimits = DEFAULT) -> list[tuple[str, bytes]]:
    """(name, bytes) of the members ``wanted`` accepts, in name order, each inflated within the limits."""
    budget = _Budget(limits, field, len(raw))
    with open_archive(raw, field=field, name=name, limits=limits) as zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir() and wanted(i.filename)), key=lambda i: i.filename)
        return [(info.filename, _inflate(zf, info, budget, keep=True)) for info in infos]


def check_archive(raw: bytes, *, field: str, name: str, limits: ZipLimits = DEFAULT) -> None:
    """Inflate every member into nothing, so a reader that inflates by itself (openpyxl) gets
    only an archive known to stay within the limits."""
    budget = _Budget(limits, field, len(raw))
    with open_archive(raw, field=field, name=name, limits=limits) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                _inflate(zf, info, budget, keep=False)


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, *, keep: bool) -> bytes:
    limits, field = budget.limits, budget.field
    parts: list[bytes] = []
    size = 0
    try:
        with zf.open(info) as member:
            while chunk := member.read(CHUNK):
                size += len(chunk)
                if size > limits.member_bytes:
                    raise TooLarge(field, f"{info.filename} 解压后超过 {limits.member_bytes // MB} MB，已停止读取")
                if size > limits.ratio_floor and size > limits.ratio * max(info.compress_size, 1):
                    raise TooLarge(field, f"{info.filename} 压缩比超过 {limits.ratio}:1，疑似压缩炸弹，已拒绝")
                budget.take(len(chunk))
                if keep:
                    parts.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        # damaged data or CRC, unsupported compression (deflate64, lzma variants), encryption
        raise FieldError(field, f"压缩包内 {info.filename} 无法读取（{type(exc).__name__}）") from exc
    return b"".join(parts)
