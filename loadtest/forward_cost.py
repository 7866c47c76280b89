"""`python -m loadtest.forward_cost [N]`: the SFU's per-packet forwarding path alone, split into its parts.

`sanke bench media` reads what a whole SFU process costs per forwarded packet; this isolates the hot path,
in one process and in CPU time, to say where a microsecond goes: one Producer fans synthetic 1.1 kB VP8
packets out to N Consumers (real pacer, real in-place SRTP sender with AES-256-GCM, as aiortc negotiates
between aiortc peers) that send to N loopback sockets dropping RTP in the kernel (loadtest.sink's filter).
Three runs each: the full path, without the `sendto` (what is left is Python and SRTP), without SRTP (Python
alone); the differences are the kernel's send and SRTP with the packet's assembly. Best of five.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time
from typing import Any

import pylibsrtp
from aiortc.rtp import RtpPacket

from loadtest.sink import attach_filter, rtp_drop_program
from media.aiortc_seams import srtp_packet_sender
from media.consumer import Consumer
from media.pacer import Pacer
from media.producer import Producer, ProducerInfo

TRACK = "pub:0"


class _Router:
    """The fan-out list a Router keeps, and nothing else."""

    def __init__(self) -> None:
        self.targets: list[Any] = []

    def fanout(self, producer_id: str) -> list[Any]:
        return self.targets

    def on_consumer_changed(self, consumer: Consumer) -> None:
        if consumer not in self.targets:
            self.targets.append(consumer)

    def on_forward_failed(self, *args: Any) -> None: ...

    def on_producer_closed(self, *args: Any) -> None: ...

    def on_consumer_closed(self, *args: Any) -> None: ...

    def request_keyframe(self, producer_id: str) -> None: ...


class _Writer:
    closed = False


def _session() -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=os.urandom(44), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM)  # fmt: skip
    return pylibsrtp.Session(policy)


def run(n: int, packets: int, kernel: bool = True, srtp: bool = True) -> float:
    """CPU µs per forwarded packet through `n` consumers."""
    router = _Router()
    producer = Producer(ProducerInfo(TRACK, "pub", "video", "camera", "high", "VP8", 90000), lambda s: True, router)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setblocking(False)
    sockets = [out]
    for i in range(n):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        attach_filter(sink, rtp_drop_program())
        sockets.append(sink)
        consumer = Consumer(f"t{i}", "video", TRACK, 90000, router)
        pacer = Pacer()
        sendto = out.sendto if kernel else (lambda data, addr: None)
        pacer.start(srtp_packet_sender(_session(), sendto, sink.getsockname()) if srtp else (lambda *a: 1120))
        ssrcs = random.getrandbits(32), random.getrandbits(32)
        consumer.start(_Writer(), pacer, *ssrcs, 96, 97, (3, 0))  # type: ignore[arg-type]
        router.on_consumer_changed(consumer)
    key = RtpPacket(payload_type=96, sequence_number=0, timestamp=0, ssrc=1)
    key.payload = b"\x10\x00" + bytes(1100)  # VP8: start of a keyframe (the consumers begin on one)
    producer.on_packet(key)
    frames = []
    for seq in range(1, 301):
        packet = RtpPacket(96, int(seq % 3 == 0), seq, seq // 3 * 3000, 1)  # pt, marker, seq, ts, ssrc
        packet.payload = b"\x00\x01" + bytes(1100)
        frames.append(packet)
    t0 = time.process_time()
    for i in range(packets):
        packet = frames[i % 300]
        packet.sequence_number = (i + 1) & 0xFFFF
        producer.on_packet(packet)
    cpu = time.process_time() - t0
    forwarded = sum(c.counters.packets for c in router.targets)
    for s in sockets:
        s.close()
    return cpu * 1e6 / forwarded


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 100
    best = {"full": 1e9, "no sendto": 1e9, "no srtp": 1e9}
    for _ in range(5):
        best["full"] = min(best["full"], run(n, 3000))
        best["no sendto"] = min(best["no sendto"], run(n, 3000, kernel=False))
        best["no srtp"] = min(best["no srtp"], run(n, 3000, kernel=False, srtp=False))
    print(f"forwarding to N={n} (load average {os.getloadavg()[0]:.1f}), CPU us per forwarded packet, best of 5:")
    print(f"{'full path':>12}{'sendto':>10}{'SRTP+copy':>11}{'Python':>9}")
    print(f"{best['full']:>12.2f}{best['full'] - best['no sendto']:>10.2f}{best['no sendto'] - best['no srtp']:>11.2f}"
          f"{best['no srtp']:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
