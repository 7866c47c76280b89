"""The SFU's own RTCP sender reports (media.sender_reports): what a receiver parses out of them."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpSdesPacket, RtcpSrPacket

from media.sender_reports import sdes, sender_report


def test_a_report_and_its_cname_parse_as_an_rtcp_compound_packet() -> None:
    for cname in ("", "abc", "{c0ffee00-1234-5678-9abc-def012345678}"):  # every padding case
        data = sender_report(0x1234_5678, 0xE000_0000_8000_0000, 90_000, 2**32 + 7, 1_000_000) + sdes(0x1234_5678, cname)
        sr, chunk = RtcpPacket.parse(data)
        assert isinstance(sr, RtcpSrPacket) and isinstance(chunk, RtcpSdesPacket)
        assert sr.ssrc == 0x1234_5678
        info = sr.sender_info
        assert (info.ntp_timestamp, info.rtp_timestamp, info.packet_count, info.octet_count) == (
            0xE000_0000_8000_0000, 90_000, 7, 1_000_000)  # fmt: skip
        assert chunk.chunks[0].ssrc == 0x1234_5678 and chunk.chunks[0].items == [(1, cname.encode())]
