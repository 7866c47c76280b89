"""The S3-compatible store (AWS, MinIO, Ceph RGW, a county's own object store) through obstore.

Retries are the spool's job (core/spool.py keeps the local file and tries again with backoff), so obstore's
own retry loop is limited to one quick attempt: an unreachable store answers in a bounded time instead of
holding a request for minutes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from core.storage import ObjectInfo, StorageError, check_key

MULTIPART_CHUNK = 8 * 1024 * 1024


class S3Storage:
    remote = True

    def __init__(
        self, bucket: str, *, endpoint: str | None = None, region: str = "us-east-1", prefix: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.prefix = prefix.strip("/")
        config: dict[str, Any] = {"region": region}
        if endpoint:
            config["endpoint"] = endpoint
        for env, key in (("AWS_ACCESS_KEY_ID", "access_key_id"), ("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
                         ("AWS_SESSION_TOKEN", "token")):
            if os.environ.get(env):
                config[key] = os.environ[env]
        self._store = S3Store(
            bucket,
            **config,
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "timeout": timedelta(seconds=timeout),
                "connect_timeout": timedelta(seconds=min(timeout, 3.0)),
            },
            retry_config={
                "max_retries": 1,
                "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=1),
                            "base": 2},
                "retry_timeout": timedelta(seconds=timeout),
            },
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _path(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, path: str) -> str:
        return path[len(self.prefix) + 1:] if self.prefix else path

    def local_path(self, key: str) -> Path | None:
        return None

    async def put_file(self, key: str, path: Path) -> None:
        try:
            with open(path, "rb") as fh:  # noqa: ASYNC230 - obstore reads it in chunks off the loop
                await obstore.put_async(self._store, self._path(key), fh, chunk_size=MULTIPART_CHUNK)
        except BaseError as exc:
            raise StorageError(f"upload of {key} failed: {_short(exc)}") from exc

    async def put_bytes(self, key: str, data: bytes) -> None:
        try:
            await obstore.put_async(self._store, self._path(key), data)
        except BaseError as exc:
            raise StorageError(f"upload of {key} failed: {_short(exc)}") from exc

    async def get_bytes(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, self._path(key))
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None
        except BaseError as exc:
            raise StorageError(f"reading {key} failed: {_short(exc)}") from exc

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = await obstore.head_async(self._store, self._path(key))
        except (NotFoundError, FileNotFoundError):
            return None
        except BaseError as exc:
            raise StorageError(f"looking up {key} failed: {_short(exc)}") from exc
        return ObjectInfo(key, int(meta["size"]))

    async def list(self, prefix: str) -> list[ObjectInfo]:
        path = self._path(prefix.rstrip("/")) if prefix else (self.prefix or None)
        found: list[ObjectInfo] = []
        try:
            async for batch in obstore.list(self._store, prefix=path):
                found.extend(ObjectInfo(self._key(m["path"]), int(m["size"])) for m in batch)
        except BaseError as exc:
            raise StorageError(f"listing {prefix} failed: {_short(exc)}") from exc
        return sorted(found, key=lambda o: o.key)

    async def delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self._store, self._path(key))
        except (NotFoundError, FileNotFoundError):
            return
        except BaseError as exc:
            raise StorageError(f"deleting {key} failed: {_short(exc)}") from exc

    async def delete_prefix(self, prefix: str) -> int:
        found = await self.list(prefix)
        if found:
            try:
                await obstore.delete_async(self._store, [self._path(o.key) for o in found])
            except BaseError as exc:
                raise StorageError(f"deleting {prefix} failed: {_short(exc)}") from exc
        return len(found)

    async def url(self, key: str, expires: timedelta) -> str | None:
        try:
            return await obstore.sign_async(self._store, "GET", self._path(key), expires)
        except BaseError as exc:
            raise StorageError(f"signing {key} failed: {_short(exc)}") from exc

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        try:
            result = await obstore.get_async(self._store, self._path(key))
            async for chunk in result.stream(min_chunk_size=256 * 1024):
                yield bytes(chunk)
        except BaseError as exc:
            raise StorageError(f"reading {key} failed: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    """obstore's messages carry a multi-line debug dump; the first line says what happened."""
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
