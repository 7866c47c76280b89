"""Upload bombs are refused quickly while the server keeps answering everyone else.

A bystander pings /api/health every 20 ms throughout; its worst latency is asserted, since one stalled
event loop is what the whole county would feel.
"""

from __future__ import annotations

import asyncio
import gc
import io
import time
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from core.uploads import start_worker
from tests.conftest import County, Server, login

# measures /api/health latency or a verification's time: runs alone, after the parallel part (Makefile)
pytestmark = [pytest.mark.parametrize("server", ["inprocess"], indirect=True), pytest.mark.solo]
MiB = 1024 * 1024


def xlsx_bomb(unpacked: int = 118 * MiB) -> bytes:
    """A workbook of ~365 KiB whose one sheet is `unpacked` bytes of XML rows once unzipped (~330:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="schools" sheetId="1"/></sheets></workbook>')
        row = b'<row><c t="inlineStr"><is><t>' + b"A" * 850 + b"</t></is></c></row>"
        block = row * (MiB // len(row))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            written = 0
            while written < unpacked:
                sheet.write(block)
                written += len(block)
    return buf.getvalue()


class Pings(list[float]):
    """The bystander's latencies (s), and the garbage collections that ran meanwhile (generation, ms): a slow
    ping says at once whether a collection was under it."""

    def __init__(self) -> None:
        super().__init__()
        self.collections: list[tuple[int, float]] = []
        self._began = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.collections.append((info["generation"], (time.perf_counter() - self._began) * 1000))

    def __str__(self) -> str:
        gen, ms = max(self.collections, key=lambda c: c[1], default=(-1, 0.0))
        return (f"worst {max(self, default=0.0) * 1000:.0f} ms over {len(self)} pings; {len(self.collections)} "
                f"garbage collection(s) meanwhile" + (f", the longest {ms:.0f} ms (gen {gen})" if gen >= 0 else ""))


@asynccontextmanager
async def bystander(url: str) -> AsyncIterator[Pings]:
    """Ping /api/health every 20 ms while the block runs; yields the latencies (seconds).

    The server runs in pytest's process, whose heap late in a full run holds millions of objects the earlier
    tests left: one full garbage collection over them stalled a ping 0.8 s (1.8 s with a 2.7-million-object
    heap under load), a pause of the test harness, not of the server. So what exists when the pings start
    is collected and then frozen (`gc.freeze`, as a server does after its start-up): collections during the
    block still run, over what the block allocates."""
    gc.collect()
    gc.freeze()
    latencies = Pings()
    gc.callbacks.append(latencies.on_gc)
    stop = asyncio.Event()

    async def ping() -> None:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                t = time.perf_counter()
                async with http.get(f"{url}/api/health") as r:
                    assert r.status == 200
                latencies.append(time.perf_counter() - t)
                await asyncio.sleep(0.02)

    task = asyncio.create_task(ping())
    await asyncio.sleep(0.1)
    try:
        yield latencies
    finally:
        stop.set()
        await task
        gc.callbacks.remove(latencies.on_gc)
        gc.unfreeze()


async def test_xlsx_bomb_refused_fast_while_health_answers(server: Server, county: County) -> None:
    bomb = await asyncio.to_thread(xlsx_bomb)
    assert len(bomb) < 400 * 1024  # a small file …
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) >= 118 * MiB  # … that expands
    coord = await login(server, "coord")
    try:
        async with bystander(server.url) as latencies:
            form = aiohttp.FormData()
            form.add_field("files", bomb, filename="county.xlsx",
                           content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            t = time.perf_counter()
            async with coord.post(f"{server.url}/api/scheduler/county", data=form) as r:
                err = (await r.json())["error"]
                elapsed = time.perf_counter() - t
        assert r.status == 413 and err["code"] == "unpacks_too_large"
        assert err["file"] == "county.xlsx" and err["limit"].startswith("xlsx_unpacked=")
        assert "county.xlsx" in err["message_zh"] and "解压" in err["message_zh"]
        assert "county.xlsx" in err["message_en"] and "unpacks" in err["message_en"]
        assert elapsed < 1.0, f"refused after {elapsed:.2f} s"
        assert latencies and max(latencies) < 0.1, f"/api/health {latencies}"
        print(f"\nxlsx bomb {len(bomb) // 1024} KiB → refused in {elapsed * 1000:.0f} ms; "
              f"/api/health worst {max(latencies) * 1000:.0f} ms over {len(latencies)} pings")
    finally:
        await coord.close()


async def test_json_bombs_refused_while_health_answers(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    deep = b"[" * 200_000 + b"]" * 200_000  # json.loads would recurse 200,000 levels
    wide = b"[" + b"0," * 300_000 + b"0]"  # 600 KB, 300,000 values
    try:
        async with coord.get(f"{server.url}/api/library/knowledge") as r:  # the library's first use seeds it
            assert r.status == 200
        await start_worker()  # as the server does in the background at start: this is about each upload
        async with bystander(server.url) as latencies:
            for body, code, url in (
                (deep, "too_deep", "/api/scheduler/county"),
                (wide, "too_many_items", "/api/scheduler/county"),
                (deep, "too_deep", "/api/library/knowledge"),
            ):
                async with coord.post(f"{server.url}{url}", data=body,
                                      headers={"Content-Type": "application/json"}) as r:
                    err = (await r.json())["error"]
                    assert r.status == 413 and err["code"] == code, err
                    assert err["file"].endswith(".json") and "=" in err["limit"]
        async with coord.get(f"{server.url}/api/health") as r:
            assert r.status == 200
        assert max(latencies) < 0.1, f"/api/health {latencies}"
        print(f"\njson bombs: /api/health worst {max(latencies) * 1000:.0f} ms over {len(latencies)} pings")
    finally:
        await coord.close()
