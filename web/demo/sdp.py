"""Which remote peer connection an SDP offer comes from: its DTLS certificate's fingerprint.

The SFU replaces a subscriber connection that failed on its side and offers again from a new connection
(a new certificate and ICE credentials). Applied to the old peer connection, aiortc keeps the dead
transport: the old connection stays "connected" and the SFU's new one stays "checking" forever, so nothing
is received again. A bot, as the browser client (sanke-client.js `remoteCertificate`), answers such an
offer from a new peer connection: `answering` is that rule, for every bot (the demo's, the load test's,
the shaped ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from media import aiortc_seams as seams

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection


def certificate(sdp: str) -> str:
    """The offer's `a=fingerprint:` value ('' when it has none)."""
    for line in sdp.splitlines():
        if line.startswith("a=fingerprint:"):
            return line.removeprefix("a=fingerprint:").strip()
    return ""


async def answering(
    pc: RTCPeerConnection | None, answered: str, offer: str
) -> tuple[RTCPeerConnection | None, str]:
    """The subscriber connection that may answer `offer`: `pc` while the offer comes from the SFU connection
    it answered before (`answered`, that connection's certificate); None, with `pc` closed, when it comes
    from the SFU's replacement (the caller makes a new one). Returned with the offer's certificate to keep."""
    offered_by = certificate(offer)
    if pc is not None and offered_by != answered:
        await seams.close(pc)
        pc = None
    return pc, offered_by
