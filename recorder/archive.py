"""A recording's files in the node's Storage: what the recorder spools and where the library finds them.

The recorder keeps writing into its local directory (it never waits for the network); each segment is
spooled when it closes, the track files and index.json when the recording is finalised (the segments'
objects are then removed), and lesson.mp4 when the composite is made. The library reads the local copy
when this node has one and otherwise the store, so a recording made on another node, or on a disk that
was lost, still plays. With the local store every key is the local file itself and nothing is copied.

A recording that took the teacher from the broadcast (`recorder.broadcast`) has files that are never
written: `hls-N.mp4` (and `lesson.mp4` when the broadcast is the whole lesson) are the HLS segments joined
(`recorder.hls_file`), read in byte ranges from the node's copy or the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from core.spool import Spool
from core.storage import Storage, StorageError
from recorder.hls_file import Joined, joined
from recorder.index import INDEX_NAME, LESSON_NAME, RecordingIndex, load_index

PREFIX = "recordings"
URL_LIFETIME = timedelta(minutes=15)


class Archive:
    def __init__(self, storage: Storage, spool: Spool, root: Path, local_root: Path | None = None) -> None:
        self.storage = storage
        self.spool = spool
        self.root = root  # the recorder's local directory, `<media_dir>/recordings`
        self.local_root = local_root or root.parent  # where this node keeps its copy of any key (HLS segments)

    @staticmethod
    def key(recording_id: str, name: str) -> str:
        return f"{PREFIX}/{recording_id}/{name}"

    # -- from the recorder -------------------------------------------------------------------------------

    def segment_closed(self, path: Path) -> None:
        """Called on the writer thread as each segment file is closed."""
        self.spool.put(f"{PREFIX}/{path.relative_to(self.root).as_posix()}", path)

    def finalised(self, directory: Path, index: RecordingIndex) -> None:
        rid = index.recording_id
        for track in index.tracks:
            if track.origin == "file":
                self.spool.put(self.key(rid, track.file), directory / track.file)
        self.spool.put(self.key(rid, INDEX_NAME), directory / INDEX_NAME)
        self.spool.delete_prefix(self.key(rid, "tracks/"))  # the track files above replace the segments

    def composited(self, directory: Path) -> None:
        if (directory / LESSON_NAME).is_file():
            self.spool.put(self.key(directory.name, LESSON_NAME), directory / LESSON_NAME)

    # -- for the library ---------------------------------------------------------------------------------

    def local(self, recording_id: str, name: str) -> Path | None:
        path = self.root / recording_id / name
        return path if recording_id and path.is_file() else None

    async def index(self, recording_id: str) -> RecordingIndex | None:
        if not recording_id:
            return None
        if self.local(recording_id, INDEX_NAME) is not None:
            return load_index(self.root / recording_id)
        if not self.storage.remote:
            return None
        data = await self.storage.get_bytes(self.key(recording_id, INDEX_NAME))
        return RecordingIndex.model_validate_json(data) if data is not None else None

    async def joined(self, recording_id: str, name: str) -> Joined | None:
        """The HLS segments a file name of the recording stands for, or None for a file written as such."""
        if not (name.startswith("hls-") or name == LESSON_NAME) or self.local(recording_id, name) is not None:
            return None
        index = await self.index(recording_id)
        return joined(index, name) if index is not None else None

    async def size(self, recording_id: str, name: str) -> int | None:
        """Bytes of the file, locally or in the store; None when neither has it yet."""
        path = self.local(recording_id, name)
        if path is not None:
            return path.stat().st_size
        whole = await self.joined(recording_id, name)
        if whole is not None:
            return whole.size
        if not recording_id or not self.storage.remote:
            return None
        info = await self.storage.head(self.key(recording_id, name))
        return info.size if info else None

    async def url(self, recording_id: str, name: str) -> str | None:
        if await self.joined(recording_id, name) is not None:
            return None  # no such object: the segments are joined as they are read
        return await self.storage.url(self.key(recording_id, name), URL_LIFETIME)

    async def stream(self, recording_id: str, name: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes [start, end): a joined one piece by piece, any other as the store streams it."""
        whole = await self.joined(recording_id, name)
        if whole is None:
            async for chunk in self.storage.stream(self.key(recording_id, name)):
                yield chunk
            return
        for piece, lo, hi in whole.spans(start, whole.size if end is None else end):
            if piece < 0:
                yield whole.init(await self._piece(whole.init_key))[lo:hi]
            else:
                yield (await self._piece(whole.keys[piece], lo, hi))

    async def _piece(self, key: str, lo: int = 0, hi: int | None = None) -> bytes:
        local = self.local_root / key
        if local.is_file():
            return await asyncio.to_thread(_read, local, lo, hi)
        data = await self.storage.get_bytes(key)
        if data is None:
            raise StorageError(f"{key} is missing from the store", "file", code="not_found")
        return data[lo:hi]


def _read(path: Path, lo: int, hi: int | None) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(lo)
        return fh.read(-1 if hi is None else hi - lo)
