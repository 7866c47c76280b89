"""What the SFU's two transports share: the peer connection's configuration and trickled candidates.

Two connections per participant, as LiveKit does: the publisher connection (`media.publisher_transport`:
the client offers, the SFU answers and receives) is negotiated only when the participant's own tracks
change, the subscriber connection (`media.subscriber_transport`: the SFU offers and sends) only when what
it receives changes, and each side is always the offerer of its own connection, so offers never collide
(no glare handling).

Each transport closes once: `close()` (or `router_closed()` from its Router) closes the peer connection
and tells each producer or consumer `transport_closed()`; any later offer or answer raises
`InvalidStateError`.
"""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import candidate_from_sdp

from media.lifecycle import Closable


def peer_config() -> RTCConfiguration:
    """The configuration of every SFU peer connection, publisher and subscriber alike."""
    # MAX_COMPAT is what the SFU has always run with: it used to pass the string "max-bundle", which aiortc
    # (comparing against its plain Enum) treated as neither MAX_BUNDLE nor BALANCED. With real MAX_BUNDLE
    # browsers get no media (tests/web/test_lesson.py); moving to it needs the seams re-checked first.
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_COMPAT)


async def add_ice_candidate(pc: RTCPeerConnection, candidate: dict) -> None:
    """Apply a trickled candidate ({candidate, sdpMid, sdpMLineIndex}). The browser's end-of-candidates is
    dropped: aioice would fail at once when it knows no remote candidate yet instead of learning the browser
    from its checks, the usual case for a relay-only client whose checks come late through TURN."""
    line = str(candidate.get("candidate") or "")
    if line.startswith("candidate:"):
        line = line[len("candidate:"):]
    if not line:
        return
    ice = candidate_from_sdp(line)
    ice.sdpMid = candidate.get("sdpMid")
    ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
    await pc.addIceCandidate(ice)


class PeerTransport(Closable):
    """One SFU peer connection and the lock its negotiations hold; what the two transports share."""

    def __init__(self) -> None:
        super().__init__()
        self.pc = RTCPeerConnection(peer_config())
        self._lock = asyncio.Lock()  # one negotiation at a time; trickled candidates wait for it

    async def add_candidate(self, candidate: dict) -> None:
        """A trickled candidate waits for a negotiation in progress (before it, aiortc would drop it)."""
        async with self._lock:
            if not self.closed:
                await add_ice_candidate(self.pc, candidate)
