"""Where a node's media objects live: a local directory (the embedded default) or an S3-compatible bucket.

Why an interface: recordings (and HLS segments) on one node's disk are lost with that disk and cannot be
found by the county's other nodes. Callers speak in keys (`recordings/<id>/track-01-camera.webm`); the
local store maps a key to a path under its root, the S3 store to an object in its bucket. The local store's
root is the node's media directory, so "uploading" a file that is already there is nothing at all.

S3 goes through obstore (Rust's object_store): async without a thread per request on the event loop the
SFU shares, presigned URLs built in, multipart uploads for large files, and one wheel without botocore's
version pins. Credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never
from the URL, so a URL can be logged and put in a unit file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from core.errors import SankeError

CHUNK = 256 * 1024


class StorageError(SankeError):
    """An object could not be read or written (the store is unreachable, or refused)."""

    def __init__(self, message: str, field: str | None = None, code: str = "storage_unavailable") -> None:
        super().__init__(code, message, field)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int


class Storage(Protocol):
    """Objects by key. `remote` says whether objects live beyond this node's disk (and need uploading)."""

    remote: bool

    def describe(self) -> str: ...

    def local_path(self, key: str) -> Path | None: ...

    async def put_file(self, key: str, path: Path) -> None: ...

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    async def get_bytes(self, key: str) -> bytes | None: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def list(self, prefix: str) -> list[ObjectInfo]: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...

    async def url(self, key: str, expires: timedelta) -> str | None:
        """A presigned GET URL a browser can fetch directly, or None when the caller must stream it."""
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]: ...


def check_key(key: str) -> str:
    """Keys are relative, '/'-separated and never climb out of the store ('..')."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"bad storage key {key!r}", "key", code="bad_key")
    return key


class LocalStorage:
    """Keys are paths under `root`. Writes go to a temporary name and are renamed into place."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return f"local directory {self.root}"

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, path: Path) -> None:
        target = self.local_path(key)
        if target.exists() and os.path.samefile(target, path):
            return  # already in place: the recorder writes into the store's own directory
        await asyncio.to_thread(self._copy, path, target)

    @staticmethod
    def _copy(path: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".put")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    async def put_bytes(self, key: str, data: bytes) -> None:
        target = self.local_path(key)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".put")
            tmp.write_bytes(data)
            os.replace(tmp, target)

        await asyncio.to_thread(write)

    async def get_bytes(self, key: str) -> bytes | None:
        path = self.local_path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.local_path(key)
        return ObjectInfo(key, path.stat().st_size) if path.is_file() else None

    async def list(self, prefix: str) -> list[ObjectInfo]:
        base = self.root / prefix.rstrip("/") if prefix else self.root

        def walk() -> list[ObjectInfo]:
            if not base.is_dir():
                return []
            return sorted(
                (ObjectInfo(p.relative_to(self.root).as_posix(), p.stat().st_size) for p in base.rglob("*")
                 if p.is_file()),
                key=lambda o: o.key,
            )

        return await asyncio.to_thread(walk)

    async def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        found = await self.list(prefix)
        for info in found:
            await self.delete(info.key)
        return len(found)

    async def url(self, key: str, expires: timedelta) -> str | None:
        return None

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        with open(self.local_path(key), "rb") as fh:  # noqa: ASYNC230 - small reads of a local file
            while chunk := await asyncio.to_thread(fh.read, CHUNK):
                yield chunk
