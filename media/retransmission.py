"""A video consumer's retransmission stream (RFC 4588): what it sent, kept by its own sequence numbers so
the subscriber's NACKs are answered by the SFU and not the publisher (mediasoup's RtpStreamSend buffer), and
the padding a bandwidth probe sends on the same SSRC.

The consumer stores each packet it forwards (`packets`, `timestamps`: plain lists indexed by `seq & MASK`,
written on the forwarding path without a call); this module decides what a NACK gets back.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from aiortc.rtp import RtpPacket

HISTORY = 1024  # packets kept for retransmission (≈ 8 s of 1 Mbps video)
MASK = HISTORY - 1
RTX_MIN_INTERVAL_S = 0.1  # retransmit a packet at most once per this interval (≈ an RTT on a LAN)
PADDING = bytes(254) + b"\xff"  # RFC 3550 padding: the last byte counts the padding, itself included
_pack = struct.Struct("!BBHII").pack
_osn = struct.Struct("!H").pack


class RtxStream:
    """The RTX SSRC and payload type of one video consumer, its sequence numbers, and the history it repairs
    from. History entries are the producer's packets, shared by every consumer of it (no copy per subscriber)."""

    __slots__ = ("ssrc", "payload_type", "packets", "timestamps", "_sent_at", "_seq")

    def __init__(self, ssrc: int, payload_type: int) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.packets: list[RtpPacket | None] = [None] * HISTORY
        self.timestamps: list[int] = [0] * HISTORY  # the consumer's RTP timestamp of each packet
        self._sent_at: list[float] = [0.0] * HISTORY  # when each was last retransmitted
        self._seq = random.randint(0, 0x7FFF)

    def repairs(self, lost: list[int], seq_off: int, now: float) -> Iterator[tuple[bytes, bytes, bytes]]:
        """(header, original sequence number, payload) to send for each NACKed packet still held: RFC 4588
        puts the original sequence number in front of the payload. `seq_off` maps the producer's sequence
        numbers to the consumer's; an entry from before a switch no longer matches and is not resent, which
        also keeps a switch down on a congested line from being flooded with repairs of the layer it left."""
        for seq in lost:
            packet = self._held(seq, seq_off)
            if packet is None:
                continue
            slot = seq & MASK
            if now - self._sent_at[slot] < RTX_MIN_INTERVAL_S:
                continue  # asked again before the last retransmission could have arrived
            self._sent_at[slot] = now
            marker_pt = (packet.marker << 7) | self.payload_type
            yield _pack(0x80, marker_pt, self._next_seq(), self.timestamps[slot], self.ssrc), _osn(seq), packet.payload

    def sent(self, seqs: list[int], seq_off: int) -> list[int]:
        """Those of `seqs` this stream sent and still holds (not a hole before the SFU, nor a paced drop)."""
        return [seq for seq in seqs if self._held(seq, seq_off) is not None]

    def forget(self, seq: int, seq_off: int) -> None:
        """The pacer dropped `seq`: a NACK for it must not bring it back (the line is short)."""
        if self._held(seq, seq_off) is not None:
            self.packets[seq & MASK] = None

    def padding(self, ext: bytes, timestamp: int) -> tuple[bytes, bytes, bytes]:
        """A padding-only packet (receivers count it toward their estimate and discard it)."""
        header = _pack(0xB0 if ext else 0xA0, self.payload_type, self._next_seq(), timestamp, self.ssrc)
        return header, ext, PADDING

    def _held(self, seq: int, seq_off: int) -> RtpPacket | None:
        """The packet this stream sent as `seq`, if still held: the slot's entry, unless it is another packet
        or one from before a switch (`seq_off` maps the producer's numbers to the consumer's)."""
        packet = self.packets[seq & MASK]
        if packet is None or (packet.sequence_number + seq_off) & 0xFFFF != seq:
            return None
        return packet

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        return seq
