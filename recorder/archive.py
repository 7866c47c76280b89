"""A recording's files in the node's Storage: what the recorder spools and where the library finds them.

The recorder keeps writing into its local directory (it never waits for the network); each segment is
spooled when it closes, the track files and index.json when the recording is finalised (the segments'
objects are then removed), and lesson.mp4 when the composite is made. The library reads the local copy
when this node has one and otherwise the store, so a recording made on another node, or on a disk that
was lost, still plays. With the local store every key is the local file itself and nothing is copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from core.spool import Spool
from core.storage import Storage
from recorder.composite import MP4_NAME
from recorder.index import INDEX_NAME, RecordingIndex, load_index

PREFIX = "recordings"
URL_LIFETIME = timedelta(minutes=15)


class Archive:
    def __init__(self, storage: Storage, spool: Spool, root: Path) -> None:
        self.storage = storage
        self.spool = spool
        self.root = root  # the recorder's local directory, `<media_dir>/recordings`

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
            self.spool.put(self.key(rid, track.file), directory / track.file)
        self.spool.put(self.key(rid, INDEX_NAME), directory / INDEX_NAME)
        self.spool.delete_prefix(self.key(rid, "tracks/"))  # the track files above replace the segments

    def composited(self, directory: Path) -> None:
        if (directory / MP4_NAME).is_file():
            self.spool.put(self.key(directory.name, MP4_NAME), directory / MP4_NAME)

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

    async def size(self, recording_id: str, name: str) -> int | None:
        """Bytes of the file, locally or in the store; None when neither has it yet."""
        path = self.local(recording_id, name)
        if path is not None:
            return path.stat().st_size
        if not recording_id or not self.storage.remote:
            return None
        info = await self.storage.head(self.key(recording_id, name))
        return info.size if info else None

    async def url(self, recording_id: str, name: str) -> str | None:
        return await self.storage.url(self.key(recording_id, name), URL_LIFETIME)

    def stream(self, recording_id: str, name: str) -> AsyncIterator[bytes]:
        return self.storage.stream(self.key(recording_id, name))
