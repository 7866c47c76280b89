"""A small fragmented-MP4 writer (ISO 14496-12, CMAF-style): an init segment and one `moof`+`mdat` per segment.

Why our own and not libavformat's mp4 muxer: the packager already holds whole encoded samples with their
timestamps, so a fragment is a few headers and a byte join (microseconds of CPU, no codec context, no
muxer state to reset at each segment, nothing to parse back out of an AVIO buffer to split files). Video is
H.264 (`avc1` with the stream's own avcC), audio Opus in MP4 (`Opus` + `dOps`, as browsers' MSE and
hls.js read it). Every box is built in one place here; nothing else in Sanke writes MP4 boxes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
KEY_FLAGS = 0x02000000  # sample_depends_on = 2 (an I picture)
DELTA_FLAGS = 0x01010000  # depends on others, is a non-sync sample


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


@dataclass(frozen=True, slots=True)
class VideoTrack:
    track_id: int
    width: int
    height: int
    avcc: bytes
    timescale: int = 90000


@dataclass(frozen=True, slots=True)
class AudioTrack:
    track_id: int
    channels: int = 2
    sample_rate: int = 48000
    pre_skip: int = 312
    timescale: int = 48000


Track = VideoTrack | AudioTrack


@dataclass(slots=True)
class Run:
    """One track's samples in a fragment: decode time of the first, then (duration, data, keyframe) each."""

    track_id: int
    base_time: int
    samples: list[tuple[int, bytes, bool]] = field(default_factory=list)


def _sample_entry(track: Track) -> bytes:
    if isinstance(track, VideoTrack):
        return box(
            b"avc1",
            bytes(6),
            struct.pack(">H", 1),  # data_reference_index
            bytes(16),
            struct.pack(">HHIIIH", track.width, track.height, 0x00480000, 0x00480000, 0, 1),
            bytes(32),  # compressorname
            struct.pack(">Hh", 0x0018, -1),
            box(b"avcC", track.avcc),
        )
    dops = box(b"dOps", struct.pack(">BBHIhB", 0, track.channels, track.pre_skip, track.sample_rate, 0, 0))
    return box(
        b"Opus",
        bytes(6),
        struct.pack(">H", 1),
        bytes(8),
        struct.pack(">HHHHI", track.channels, 16, 0, 0, track.sample_rate << 16),
        dops,
    )


def _trak(track: Track) -> bytes:
    video = isinstance(track, VideoTrack)
    width, height = (track.width, track.height) if isinstance(track, VideoTrack) else (0, 0)
    tkhd = full_box(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, track.track_id, 0, 0),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0 if video else 0x0100, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, track.timescale, 0, 0x55C4, 0))
    handler, name = (b"vide", b"VideoHandler\0") if video else (b"soun", b"SoundHandler\0")
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), handler, bytes(12), name)
    header = full_box(b"vmhd", 0, 1, bytes(8)) if video else full_box(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(track)),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", header, dinf, stbl)))


def init_segment(tracks: list[Track]) -> bytes:
    """ftyp + moov (no samples; `mvex` says the samples come in fragments)."""
    ftyp = box(b"ftyp", b"iso6", struct.pack(">I", 0), b"iso6cmfcmp41")
    mvhd = full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, 1000, 0),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", max(t.track_id for t in tracks) + 1),
    )  # fmt: skip
    mvex = box(b"mvex", *(full_box(b"trex", 0, 0, struct.pack(">IIIII", t.track_id, 1, 0, 0, 0)) for t in tracks))
    return ftyp + box(b"moov", mvhd, *(_trak(t) for t in tracks), mvex)


def _traf(run: Run, data_offset: int) -> bytes:
    tfhd = full_box(b"tfhd", 0, 0x020000, struct.pack(">I", run.track_id))  # default-base-is-moof
    tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", run.base_time))
    entries = b"".join(
        struct.pack(">III", duration, len(data), KEY_FLAGS if key else DELTA_FLAGS)
        for duration, data, key in run.samples
    )
    trun = full_box(b"trun", 0, 0x000701, struct.pack(">Ii", len(run.samples), data_offset), entries)
    return box(b"traf", tfhd, tfdt, trun)


def fragment(sequence: int, runs: list[Run]) -> bytes:
    """moof + mdat of one segment: each run's samples, one after the other, in one mdat."""
    runs = [r for r in runs if r.samples]
    mfhd = full_box(b"mfhd", 0, 0, struct.pack(">I", sequence))
    moof_size = len(box(b"moof", mfhd, *(_traf(r, 0) for r in runs)))
    offset = moof_size + 8
    trafs = []
    for run in runs:
        trafs.append(_traf(run, offset))
        offset += sum(len(data) for _, data, _ in run.samples)
    mdat = box(b"mdat", *(data for run in runs for _, data, _ in run.samples))
    return box(b"moof", mfhd, *trafs) + mdat


def _children(body: bytes) -> list[tuple[bytes, bytes]]:
    out, i = [], 0
    while i + 8 <= len(body):
        size = struct.unpack_from(">I", body, i)[0]
        if size < 8 or i + size > len(body):
            raise ValueError("not an MP4 box sequence")
        out.append((body[i + 4 : i + 8], body[i : i + size]))
        i += size
    return out


def with_duration(init: bytes, seconds: float) -> bytes:
    """An init segment of ours, telling the whole presentation's length (mvhd, and mehd in mvex).

    Joined to its media segments, an init is a complete fragmented MP4, but one that says nothing of its
    length: a player would show no duration until it had read to the end. The recording's copy is served
    with it (a few header bytes; the media segments stay the stored ones).
    """
    top = _children(init)
    if [kind for kind, _ in top] != [b"ftyp", b"moov"]:
        raise ValueError("not an init segment: ftyp + moov expected")
    moov = top[1][1]
    children = _children(moov[8:])
    if not children or children[0][0] != b"mvhd":
        raise ValueError("moov must start with mvhd")
    mvhd = bytearray(children[0][1])
    timescale = struct.unpack_from(">I", mvhd, 20)[0]
    length = round(seconds * timescale)
    struct.pack_into(">I", mvhd, 24, length)
    rebuilt = [bytes(mvhd)]
    for kind, data in children[1:]:
        if kind == b"mvex":
            kept = [d for k, d in _children(data[8:]) if k != b"mehd"]
            data = box(b"mvex", full_box(b"mehd", 0, 0, struct.pack(">I", length)), *kept)
        rebuilt.append(data)
    return top[0][1] + box(b"moov", *rebuilt)


@dataclass(frozen=True, slots=True)
class FragmentTiming:
    """One track's run in a fragment, read back: decode time of its first sample, samples, total ticks."""

    base_time: int
    samples: int
    duration: int


def fragment_timing(data: bytes, track_id: int) -> FragmentTiming | None:
    """Read a fragment of ours back (a crashed lesson's segments have no other record of their timing)."""
    for kind, moof in _children(data):
        if kind != b"moof":
            continue
        for traf_kind, traf in _children(moof[8:]):
            if traf_kind != b"traf":
                continue
            parts = dict(_children(traf[8:]))
            tfhd, tfdt, trun = parts.get(b"tfhd"), parts.get(b"tfdt"), parts.get(b"trun")
            if not tfhd or not tfdt or not trun or struct.unpack_from(">I", tfhd, 12)[0] != track_id:
                continue
            base = struct.unpack_from(">Q" if tfdt[8] == 1 else ">I", tfdt, 12)[0]
            count = struct.unpack_from(">I", trun, 12)[0]
            ticks = sum(struct.unpack_from(">I", trun, 20 + 12 * i)[0] for i in range(count))
            return FragmentTiming(base, count, ticks)
    return None


def init_picture(init: bytes) -> tuple[int, int, int]:
    """(width, height, tracks) of an init segment of ours, from its tkhd boxes."""
    moov = dict(_children(init)).get(b"moov", b"")
    traks = [data for kind, data in _children(moov[8:]) if kind == b"trak"] if moov else []
    width = height = 0
    for trak in traks:
        tkhd = dict(_children(trak[8:]))[b"tkhd"]
        w, h = struct.unpack_from(">II", tkhd, len(tkhd) - 8)
        width, height = max(width, w >> 16), max(height, h >> 16)
    return width, height, len(traks)
