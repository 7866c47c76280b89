"""A participant's room events on this node, numbered, with the last ones kept for a resume.

A connection that drops keeps its seat for the resume grace period, but the events of those seconds (a
`mute.requested`, a quiz pushed, the stage changing) used to reach nobody. The mailbox, not the connection,
is the room fan-out's member: it stays in the room while the participant is away, numbers every lasting
event it is given (`seq`, per participant) and keeps the last `limit` of them for `keep` seconds. A resumed
connection is sent, after `joined`, the events after the last `seq` it saw (`last_seq` in `resume`) — or,
from a client that does not say, those that arrived while no connection was attached — in order, once.
When the ones it needs are gone already it is told `replay: "snapshot"`: the `joined` snapshot is the room
as it is, and nothing is replayed (as LiveKit's signal cache and AnyCable's resumable sessions, a bounded
cache behind a fresh state).

Room-wide passing state (`speakers`, `stats`) is neither numbered nor kept: a stale one is worth nothing.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

from core.bus import Envelope

REPLAY_EVENTS = 128  # per participant; a resume needing more gets a fresh snapshot instead
PASSING = frozenset({"speakers", "stats"})


class Reader(Protocol):
    def deliver(self, envelope: Envelope, text: str) -> bool:
        """Queue the event for the connection; False if the connection no longer takes anything."""
        ...


class Mailbox:
    def __init__(self, hub_side: bool, hidden: bool, keep: float, limit: int = REPLAY_EVENTS) -> None:
        self.hub_side = hub_side
        self.hidden = hidden
        self.keep = keep
        self.seq = 0  # the last number given
        self.sent = 0  # the last number an attached connection took
        self.reader: Reader | None = None
        self.detached_at = 0.0  # when the last connection went (tells one absence from the next)
        self._recent: deque[tuple[int, float, Envelope]] = deque(maxlen=limit)

    def deliver(self, envelope: Envelope) -> None:
        """From the room's fan-out (never blocks)."""
        if envelope.data.get("type") in PASSING:
            if self.reader is not None:
                self.reader.deliver(envelope, envelope.raw)
            return
        self.seq += 1
        now = time.monotonic()
        self._trim(now)
        self._recent.append((self.seq, now, envelope))
        if self.reader is not None and self.reader.deliver(envelope, numbered(envelope, self.seq)):
            self.sent = self.seq

    def attach(self, reader: Reader, last_seq: int | None) -> list[str] | None:
        """Make `reader` the connection; return the events it missed, in order (None: more were missed than
        are kept, the snapshot stands instead). Call it right after queueing `joined`, with no await between,
        so that nothing is sent twice or out of order."""
        missed = self._since(self.sent if last_seq is None else last_seq)
        self.reader = reader
        self.sent = self.seq
        return missed

    def detach(self, reader: Reader) -> bool:
        """`reader`'s connection is gone; True if it was the attached one (the mailbox waits for a resume)."""
        if self.reader is reader:
            self.reader = None
            self.detached_at = time.monotonic()
            return True
        return False

    def _trim(self, now: float) -> None:
        """Forget what is older than a resume could still ask for."""
        while self._recent and self._recent[0][1] < now - self.keep:
            self._recent.popleft()

    def _since(self, last: int) -> list[str] | None:
        self._trim(time.monotonic())
        if last >= self.seq:
            return [] if last == self.seq else None  # a number never given: another mailbox's
        if not self._recent or self._recent[0][0] > last + 1:
            return None
        return [numbered(e, seq) for seq, _, e in self._recent if seq > last]


def numbered(envelope: Envelope, seq: int) -> str:
    """The event's JSON text with `"seq"` first, built from the shared text (not encoded per recipient)."""
    raw = envelope.raw
    return f'{{"seq":{seq},{raw[1:]}' if raw.startswith("{") and envelope.data else raw
