"""What a publish offer may name: only the m-lines its SDP carries.

Checked before negotiating, so a track spec the offer lacks is refused instead of published under a
guessed source.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from core.errors import SankeError


def check_offer_tracks(sdp: str, mids: set[str]) -> None:
    unknown = sorted(mids - {m.rtp.muxId for m in SessionDescription.parse(sdp).media})
    if unknown:
        raise SankeError("invalid_field", f"tracks name m-lines the offer lacks: {', '.join(unknown)}", "tracks")
