"""One HLS generation of a recording read as one file: its init segment, then its media segments in order.

Joined so, they are a valid fragmented MP4, which is what the library serves as the track (and as the lesson
MP4 when the broadcast is the whole recording) and what the composite decodes. The init is served with the
presentation's duration written in (`media.fmp4.with_duration`, 16 more bytes); the media segments are
read as stored. Nothing is copied: the library reads byte ranges off the store, the composite reads the
node's local copies through `JoinedFile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from media.fmp4 import with_duration
from recorder.index import RecordingIndex

MEHD_SIZE = 16  # the mehd box with_duration adds to our init segments


@dataclass(frozen=True, slots=True)
class Joined:
    init_key: str
    init_size: int  # as served (with the duration)
    keys: list[str]  # the media segments'
    sizes: list[int]
    duration: float

    @property
    def size(self) -> int:
        return self.init_size + sum(self.sizes)

    def init(self, stored: bytes) -> bytes:
        data = with_duration(stored, self.duration)
        if len(data) != self.init_size:
            raise ValueError(f"init segment {self.init_key} is not the one indexed")
        return data

    def spans(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """(piece, first byte, end byte) of each piece overlapping bytes [start, end); piece -1 is the init."""
        out = []
        offset = 0
        for piece, size in enumerate([self.init_size, *self.sizes], start=-1):
            lo, hi = max(start, offset), min(end, offset + size)
            if lo < hi:
                out.append((piece, lo - offset, hi - offset))
            offset += size
        return out


def joined(index: RecordingIndex, name: str) -> Joined | None:
    generation = index.hls_generation(name)
    if generation is None or index.hls is None:
        return None
    prefix = index.hls.prefix
    return Joined(
        prefix + generation.init, generation.init_size + MEHD_SIZE, [prefix + s.name for s in generation.segments],
        [s.size for s in generation.segments], generation.duration,
    )  # fmt: skip


class JoinedFile:
    """A read-only, seekable file over the local copies of a generation's pieces (PyAV opens it)."""

    def __init__(self, root: Path, j: Joined) -> None:
        self._j = j
        self._paths = [root / key for key in j.keys]
        self._init = j.init((root / j.init_key).read_bytes())
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = self._j.size if n is None or n < 0 else min(self._j.size, self._pos + n)
        parts = []
        for piece, lo, hi in self._j.spans(self._pos, end):
            if piece < 0:
                parts.append(self._init[lo:hi])
            else:
                with open(self._paths[piece], "rb") as fh:
                    fh.seek(lo)
                    parts.append(fh.read(hi - lo))
        data = b"".join(parts)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._j.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        return None
