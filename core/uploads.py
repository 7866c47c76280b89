"""Untrusted uploads (county JSON/CSV/XLSX, knowledge files) parsed off the event loop, within limits.

One place for the rule every parser follows: cheap checks that need no parsing run first, in the caller
(raw size, the XLSX's declared unpacked size from the zip directory, JSON nesting depth and item count,
CSV encoding), so a bomb is refused in milliseconds; the parse itself runs in a worker process with a
memory cap and a time limit, so even a file that slips past the checks cannot stall or exhaust the node.
Every refusal names the file and the limit, in Chinese and English.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import os
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from core.orphans import die_with

T = TypeVar("T")
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_bytes: int = 8 * MiB  # one uploaded file
    total_bytes: int = 16 * MiB  # all files of one upload
    xlsx_unpacked: int = 32 * MiB  # the sum of the workbook's parts once unzipped
    xlsx_parts: int = 2000
    rows_per_sheet: int = 20_000  # also rows per CSV file
    json_depth: int = 32
    json_items: int = 200_000  # values (objects, arrays, scalars) in one JSON document
    seconds: float = 20.0  # one parse in the worker
    worker_memory: int = 1024 * MiB  # address space of the worker process


LIMITS = UploadLimits()


class UploadRefused(Exception):
    """An upload over a limit (413) or not readable as declared (422)."""

    def __init__(self, status: int, code: str, file: str, limit: str, zh: str, en: str, line: int = 0) -> None:
        super().__init__(status, code, file, limit, zh, en, line)
        self.status, self.code, self.file, self.limit = status, code, file, limit
        self.zh, self.en, self.line = zh, en, line

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "message_zh": self.zh,
                               "message_en": self.en, "file": self.file, "limit": self.limit, "field": "file"}
        if self.line:
            out["line"] = self.line
        return out


def check_size(blob: bytes, file: str, limits: UploadLimits = LIMITS) -> None:
    if len(blob) > limits.max_bytes:
        mib = limits.max_bytes // MiB
        raise UploadRefused(413, "too_large", file, f"max_bytes={limits.max_bytes}",
                            f"文件 {file} 超过 {mib} MiB 的上限", f"file {file} is over the {mib} MiB limit")


def check_xlsx(blob: bytes, file: str, limits: UploadLimits = LIMITS) -> None:
    """Refuse a workbook whose parts would unpack past the limit, reading only the zip directory.

    The declared sizes bound what is read: Python's zipfile stops a member at its declared size and a
    member that lies fails its CRC, so a bomb cannot unpack more than it declares."""
    check_size(blob, file, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise UploadRefused(422, "unreadable", file, "xlsx", f"{file} 不是有效的 XLSX 工作簿",
                            f"{file} is not a valid XLSX workbook ({e})") from e
    if len(parts) > limits.xlsx_parts:
        raise UploadRefused(413, "too_many_parts", file, f"xlsx_parts={limits.xlsx_parts}",
                            f"工作簿 {file} 的部件超过 {limits.xlsx_parts} 个",
                            f"workbook {file} has more than {limits.xlsx_parts} parts")
    unpacked = sum(p.file_size for p in parts)
    if unpacked > limits.xlsx_unpacked:
        mib = limits.xlsx_unpacked // MiB
        raise UploadRefused(413, "unpacks_too_large", file, f"xlsx_unpacked={limits.xlsx_unpacked}",
                            f"工作簿 {file} 解压后为 {unpacked // MiB} MiB，超过 {mib} MiB 的上限",
                            f"workbook {file} unpacks to {unpacked // MiB} MiB, over the {mib} MiB limit")


def check_json(blob: bytes | str, file: str, limits: UploadLimits = LIMITS) -> None:
    """Nesting depth and value count by one linear scan, before `json.loads` (which recurses)."""
    data = blob.encode() if isinstance(blob, str) else blob
    check_size(data, file, limits)
    depth = items = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
            continue
        if byte == 0x22:
            in_string = True
            items += 1
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            items += 1
            if depth > limits.json_depth:
                raise UploadRefused(413, "too_deep", file, f"json_depth={limits.json_depth}",
                                    f"{file} 的嵌套超过 {limits.json_depth} 层",
                                    f"{file} nests deeper than {limits.json_depth} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1
        elif byte == 0x2C:  # , separates values
            items += 1
        if items > limits.json_items:
            raise UploadRefused(413, "too_many_items", file, f"json_items={limits.json_items}",
                                f"{file} 超过 {limits.json_items} 个数据项",
                                f"{file} has more than {limits.json_items} items")


def decode_csv(blob: bytes, file: str, encoding: str = "utf-8", limits: UploadLimits = LIMITS) -> str:
    """UTF-8 (with or without BOM), or GB18030 when the user says so; never a silent re-decode."""
    check_size(blob, file, limits)
    declared = encoding.lower().replace("-", "").replace("_", "")
    codec = "gb18030" if declared in ("gb18030", "gbk", "gb2312") else "utf-8-sig"
    try:
        text = blob.decode(codec)
    except UnicodeDecodeError as e:
        line = blob.count(b"\n", 0, e.start) + 1
        name = "GB18030" if codec == "gb18030" else "UTF-8"
        raise UploadRefused(422, "bad_encoding", file, f"encoding={name}",
                            f"{file} 第 {line} 行不是有效的 {name} 文本；如用 Excel 保存，请选“CSV UTF-8”或声明 GB18030",
                            f"{file} line {line} is not valid {name}; save as CSV UTF-8 or declare GB18030",
                            line) from e
    rows = text.count("\n")
    if rows > limits.rows_per_sheet + 1:
        raise UploadRefused(413, "too_many_rows", file, f"rows_per_sheet={limits.rows_per_sheet}",
                            f"{file} 超过 {limits.rows_per_sheet} 行", f"{file} has more than {limits.rows_per_sheet} rows")
    return text


def too_many_rows(file: str, limits: UploadLimits = LIMITS) -> UploadRefused:
    """For parsers that count rows as they stream (an XLSX sheet)."""
    return UploadRefused(413, "too_many_rows", file, f"rows_per_sheet={limits.rows_per_sheet}",
                         f"{file} 超过 {limits.rows_per_sheet} 行", f"{file} has more than {limits.rows_per_sheet} rows")


# -- the worker process -------------------------------------------------------------------------------

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _start_worker(memory: int, server_pid: int) -> None:
    """Each worker's initializer: tie its life to the server's, then cap its memory."""
    die_with(server_pid)
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _get_pool(limits: UploadLimits) -> ProcessPoolExecutor:
    """The pool, started on first use in a helper thread: starting the fork server and the first worker
    blocks for a while, which must not happen on the event loop."""
    global _pool
    with _pool_lock:
        if _pool is None:
            ctx = multiprocessing.get_context("forkserver")
            pool = ProcessPoolExecutor(max_workers=2, mp_context=ctx, initializer=_start_worker,
                                       initargs=(limits.worker_memory, os.getpid()))
            pool.submit(int).result()  # spawns the first worker now
            _pool = pool
        return _pool


def _discard_pool() -> None:
    """A parse overran: stop its worker (the pool cannot cancel a running call) and start afresh later."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    for proc in list(getattr(pool, "_processes", {}).values()):  # CPython < 3.14 has no terminate_workers()
        with contextlib.suppress(Exception):
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


async def parse_in_worker(fn: Callable[..., T], *args: Any, file: str, limits: UploadLimits = LIMITS) -> T:
    """Run `fn(*args)` (a module-level function) in the worker process, within the time limit."""
    loop = asyncio.get_running_loop()
    pool = _pool if _pool is not None else await asyncio.to_thread(_get_pool, limits)
    future = loop.run_in_executor(pool, fn, *args)
    try:
        return await asyncio.wait_for(future, limits.seconds)
    except TimeoutError:
        _discard_pool()
        raise UploadRefused(413, "too_slow", file, f"seconds={limits.seconds:g}",
                            f"{file} 超过 {limits.seconds:g} 秒仍未解析完", f"{file} took over {limits.seconds:g} s to parse"
                            ) from None
    except (BrokenProcessPool, MemoryError):
        _discard_pool()
        mib = limits.worker_memory // MiB
        raise UploadRefused(413, "too_much_memory", file, f"worker_memory={limits.worker_memory}",
                            f"解析 {file} 需要超过 {mib} MiB 内存", f"parsing {file} needs more than {mib} MiB") from None


async def start_worker(limits: UploadLimits = LIMITS) -> None:
    """Start the fork server and a worker ahead of the first upload (off the loop: it takes a while)."""
    await asyncio.to_thread(_get_pool, limits)


def shutdown() -> None:
    """Stop the worker processes now (the process is exiting): nothing is left behind when it is gone."""
    _discard_pool()
