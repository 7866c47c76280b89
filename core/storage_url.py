"""Opening the node's Storage from its URL (`--storage-url`): the one place that knows every implementation.

Kept apart from `core.storage` (the interface and the local directory) so that `core.s3`, which builds on
that interface, and the choice between them do not import each other.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from core.s3 import S3Storage
from core.storage import LocalStorage, Storage, StorageError


def open_storage(url: str | None, media_dir: Path) -> Storage:
    """`None`/`local` → the media directory; `file:///path` → that directory; `s3://bucket?endpoint=…`."""
    if not url or url == "local":
        return LocalStorage(media_dir)
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(parts.path))
    if parts.scheme == "s3":
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "prefix", "timeout"}
        if not parts.netloc or unknown:
            raise StorageError(
                f"storage URL needs s3://bucket[?endpoint=&region=&prefix=&timeout=]; unknown: {sorted(unknown)}",
                "storage_url", code="bad_storage_url",
            )
        return S3Storage(
            parts.netloc,
            endpoint=query.get("endpoint"),
            region=query.get("region", "us-east-1"),
            prefix=query.get("prefix", ""),
            timeout=float(query.get("timeout", "10")),
        )
    raise StorageError(f"unknown storage scheme {parts.scheme!r} (local, file:// or s3://)", "storage_url",
                       code="bad_storage_url")
