"""The encoded-frame record the SFU hands to in-process consumers (the recorder).

Defined in the leaf `core.contracts` (it crosses the seam); kept here under its old name for `recorder/`.
"""

from __future__ import annotations

from core.contracts import EncodedFrame, MediaKind

__all__ = ["EncodedFrame", "MediaKind"]
