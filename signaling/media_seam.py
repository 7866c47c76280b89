"""The seam between signaling and the SFU, as signaling names it.

The definitions live in the leaf `core.contracts` (so `media/` needs nothing from `signaling/`); this
module keeps the names signaling and its callers have always imported.
"""

from __future__ import annotations

from core.contracts import (
    MediaListener,
    MediaSeam,
    MediaTrack,
    Outbox,
    PcRole,
    PublishedTrackSpec,
    Quality,
)

__all__ = ["MediaListener", "MediaSeam", "MediaTrack", "Outbox", "PcRole", "PublishedTrackSpec", "Quality"]
