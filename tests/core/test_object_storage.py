"""The Storage interface on both implementations (a local directory and a real S3 API server), and the upload
spool: a broken upload keeps the local file and is retried; a process killed with SIGKILL leaves its spool on
disk and the next process uploads it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from core.spool import Spool
from core.storage import LocalStorage, StorageError
from core.storage_url import open_storage
from tests.s3server import S3

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    s3: S3 = request.getfixturevalue("s3")
    return open_storage(s3.url, tmp_path / "unused")


async def test_put_get_list_delete_on_both_stores(store, tmp_path):
    source = tmp_path / "seg-000001.webm"
    source.write_bytes(os.urandom(300_000))
    await store.put_file("recordings/r1/tracks/01/seg-000001.webm", source)
    await store.put_bytes("recordings/r1/index.json", b'{"ok": 1}')
    await store.put_bytes("recordings/r2/index.json", b"{}")
    assert await store.get_bytes("recordings/r1/index.json") == b'{"ok": 1}'
    assert await store.get_bytes("recordings/r1/nothing") is None
    assert (await store.head("recordings/r1/tracks/01/seg-000001.webm")).size == 300_000
    assert await store.head("recordings/r9/index.json") is None
    assert [o.key for o in await store.list("recordings/r1/")] == [
        "recordings/r1/index.json", "recordings/r1/tracks/01/seg-000001.webm",
    ]
    streamed = b"".join([chunk async for chunk in store.stream("recordings/r1/tracks/01/seg-000001.webm")])
    assert streamed == source.read_bytes()
    assert await store.delete_prefix("recordings/r1/tracks/") == 1
    assert [o.key for o in await store.list("recordings/")] == ["recordings/r1/index.json", "recordings/r2/index.json"]
    for bad in ("../secret.key", "/etc/passwd", "a//b", "a/./b"):
        with pytest.raises(StorageError) as err:
            await store.put_bytes(bad, b"x")
        assert err.value.code == "bad_key" and err.value.field == "key"


async def test_s3_presigned_url_is_fetched_by_a_plain_http_client(s3: S3, tmp_path):
    store = open_storage(s3.url, tmp_path)
    await store.put_bytes("recordings/r1/lesson.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(1000))
    url = await store.url("recordings/r1/lesson.mp4", timedelta(minutes=5))
    assert url.startswith(s3.endpoint) and "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            assert r.status == 200
            assert await r.read() == await store.get_bytes("recordings/r1/lesson.mp4")
        # (moto does not verify signatures, so a forged URL is not tested here)


def test_bad_storage_urls_say_what_is_wrong(tmp_path):
    for url in ("s3://", "s3://b?endpont=http://x", "ftp://host/x"):
        with pytest.raises(StorageError) as err:
            open_storage(url, tmp_path)
        assert err.value.code == "bad_storage_url" and err.value.field == "storage_url"
    assert isinstance(open_storage(None, tmp_path), LocalStorage)


async def test_local_store_needs_no_upload_for_its_own_files(tmp_path):
    store = LocalStorage(tmp_path / "media")
    path = tmp_path / "media" / "recordings" / "r1" / "index.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    spool = Spool(store, tmp_path / "spool")
    assert spool.put("recordings/r1/index.json", path) is False
    assert spool.pending() == 0


async def test_a_broken_upload_keeps_the_local_copy_and_retries(s3: S3, tmp_path):
    store = open_storage(s3.url, tmp_path)
    spool = Spool(store, tmp_path / "spool", retry_initial=0.2, retry_max=0.5)
    spool.start()
    files = []
    for n in range(3):
        path = tmp_path / f"seg-{n}.webm"
        path.write_bytes(os.urandom(50_000))
        files.append(path)
    try:
        await s3.proxy.down()
        for n, path in enumerate(files):
            spool.put(f"recordings/r1/seg-{n}.webm", path)
        await asyncio.sleep(1.5)
        assert spool.stats.failures >= 2 and spool.stats.uploaded == 0
        assert "recordings/r1/seg-0.webm" in spool.stats.last_error
        assert spool.pending() == 3 and all(p.is_file() for p in files)  # nothing is dropped
        await s3.proxy.up()
        started = time.monotonic()
        assert await spool.drain(10)
        caught_up = time.monotonic() - started
    finally:
        await spool.close()
    objects = s3.objects()
    for n, path in enumerate(files):
        assert objects[f"recordings/r1/seg-{n}.webm"] == path.read_bytes()
    assert caught_up < 2.0  # the backoff is capped at 0.5 s here: the spool notices the store is back
    assert spool.stats.uploaded == 3


CRASHING = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from core.spool import Spool
    from core.storage_url import open_storage
    async def main():
        spool = Spool(open_storage(sys.argv[1], Path(sys.argv[2])), Path(sys.argv[2]) / "spool")
        spool.start()
        for n in range(4):
            path = Path(sys.argv[2]) / f"seg-{n}.webm"
            path.write_bytes(bytes([n]) * 40_000)
            spool.put(f"recordings/crash/seg-{n}.webm", path)
        print("queued", flush=True)
        await asyncio.sleep(600)
    asyncio.run(main())
""")


async def test_the_spool_survives_sigkill_and_the_next_process_uploads_it(s3: S3, tmp_path):
    await s3.proxy.down()  # the store is down while the first process spools, so nothing leaves it
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING, s3.url, str(tmp_path), cwd=REPO, stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"queued"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert len(list((tmp_path / "spool").glob("*.json"))) == 4
    await s3.proxy.up()
    spool = Spool(open_storage(s3.url, tmp_path), tmp_path / "spool", retry_initial=0.2)
    spool.start()
    try:
        assert await spool.drain(10)
    finally:
        await spool.close()
    objects = s3.objects()
    assert sorted(objects) == [f"recordings/crash/seg-{n}.webm" for n in range(4)]
    assert all(objects[f"recordings/crash/seg-{n}.webm"] == bytes([n]) * 40_000 for n in range(4))


def test_the_storage_interface_does_not_import_its_s3_implementation():
    """core.s3 builds on core.storage; choosing one by URL lives in core.storage_url, so no circle (not even a
    lazy import) joins the two."""
    from tests.core.test_layering import _graph

    graph = _graph()
    assert "core.storage" in graph["core.s3"] and not any(m.startswith("core.s3") for m in graph["core.storage"])
    assert {"core.s3", "core.storage"} <= graph["core.storage_url"]
