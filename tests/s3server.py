"""A real S3 API on 127.0.0.1 for the storage tests: moto's server mode in a child process, and a TCP proxy in
front of it that a test can cut (connections refused, open ones reset) to play an object store that is down.

moto is in the dev extras; in CI its absence is a failure, elsewhere a skip with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import free_port
from tests.required import missing
from tests.turnserver import die_with_parent


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="sanke-test", aws_secret_access_key="sanke-test-secret")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        missing("moto[server]", f"the S3 API server for the storage tests ({exc})")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                missing("moto[server]", "the moto server did not start")
            time.sleep(0.1)
    try:
        yield MotoServer(endpoint, process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class FaultProxy:
    """Forwards TCP from its own port to moto; `down()` stops listening and resets every open connection."""

    target_port: int
    port: int = field(default_factory=free_port)
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open.difference_update((writer, up_writer))


@dataclass
class S3:
    """One test's bucket, reached through the proxy (`url`, the --storage-url) or directly (`moto.client()`)."""

    moto: MotoServer
    bucket: str
    proxy: FaultProxy

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}?endpoint={self.endpoint}&timeout=2"

    def objects(self) -> dict[str, bytes]:
        client = self.moto.client()
        found = client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"]: client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read() for o in found}


@pytest.fixture
async def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[S3]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sanke-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sanke-test-secret")
    bucket = f"sanke-{uuid.uuid4().hex[:12]}"
    moto_server.client().create_bucket(Bucket=bucket)
    proxy = FaultProxy(int(moto_server.endpoint.rsplit(":", 1)[1]))
    await proxy.up()
    try:
        yield S3(moto_server, bucket, proxy)
    finally:
        await proxy.down()


def outage_seconds() -> float:
    """How long the store is down mid-lesson: a few seconds in CI, a real minute with SANKE_S3_OUTAGE_SECONDS=60."""
    return float(os.environ.get("SANKE_S3_OUTAGE_SECONDS", "4"))
