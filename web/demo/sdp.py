"""Which remote peer connection an SDP offer comes from: its DTLS certificate's fingerprint.

The SFU replaces a subscriber connection that failed on its side and offers again from a new connection
(a new certificate and ICE credentials). Applied to the old peer connection, aiortc keeps the dead
transport: the old connection stays "connected" and the SFU's new one stays "checking" forever, so nothing
is received again. A bot, as the browser client (sanke-client.js `remoteCertificate`), answers such an
offer from a new peer connection.
"""

from __future__ import annotations


def certificate(sdp: str) -> str:
    """The offer's `a=fingerprint:` value ('' when it has none)."""
    for line in sdp.splitlines():
        if line.startswith("a=fingerprint:"):
            return line.removeprefix("a=fingerprint:").strip()
    return ""
