"""Per-track media statistics: room events for the pages and Prometheus text for `/metrics`.

Counters are plain integers bumped on the forwarding path; rates are derived here, off the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from media.consumer import Consumer
    from media.producer import Producer
    from media.subscriber_transport import SubscriberTransport


@dataclass(slots=True)
class TrackStats:
    room_id: str
    track_id: str
    participant_id: str
    kind: str
    source: str
    quality: str
    codec: str
    bitrate_bps: float  # received from the publisher, over the last interval
    packets: int  # received from the publisher
    packets_lost: int  # publisher → SFU
    subscribers: int
    packets_forwarded: int  # sum over its consumers
    nacks: int  # sequence numbers NACKed by subscribers
    retransmitted: int  # RTX packets sent to subscribers
    keyframe_requests: int  # PLI/FIR from subscribers, new subscribers, switches, sinks
    plis_sent: int  # PLIs actually sent to the publisher (coalesced, throttled)
    keyframes: int
    transit_avg_us: float  # packet handed to the SFU → written to every subscriber socket
    transit_max_us: float
    subscriber_loss: float  # worst fraction lost reported by a subscriber (RTCP RR)

    def as_event(self) -> dict:
        return asdict(self)


class StatsCollector:
    """Turns the cumulative counters of a room's producers and consumers into TrackStats."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._prev: dict[str, tuple[float, int]] = {}  # track_id → (time, bytes)

    def collect(self, producers: Iterable[Producer], subscribers: Iterable[SubscriberTransport]) -> list[TrackStats]:
        by_source: dict[str, list[Consumer]] = {}  # producer id → its consumers
        for transport in subscribers:
            for slot in transport.slots.values():
                consumer = slot.consumer
                if consumer.producer_id is not None:
                    by_source.setdefault(consumer.producer_id, []).append(consumer)
        now = time.monotonic()
        out: list[TrackStats] = []
        seen: set[str] = set()
        for producer in producers:
            info = producer.info
            c = producer.counters
            seen.add(info.track_id)
            then, then_bytes = self._prev.get(info.track_id, (producer.created_at, 0))
            self._prev[info.track_id] = (now, c.bytes)
            bitrate = (c.bytes - then_bytes) * 8 / (now - then) if now > then else 0.0
            consumers = by_source.get(info.track_id, [])
            transit_avg = c.transit_sum / c.transit_count * 1e6 if c.transit_count else 0.0
            out.append(
                TrackStats(
                    room_id=self.room_id,
                    track_id=info.track_id,
                    participant_id=info.participant_id,
                    kind=info.kind,
                    source=info.source,
                    quality=info.quality,
                    codec=info.codec,
                    bitrate_bps=round(bitrate, 1),
                    packets=c.packets,
                    packets_lost=producer.packets_lost,
                    subscribers=sum(1 for x in consumers if not x.paused),
                    packets_forwarded=sum(x.counters.packets for x in consumers),
                    nacks=sum(x.counters.nacks for x in consumers),
                    retransmitted=sum(x.counters.retransmitted for x in consumers),
                    keyframe_requests=producer.keyframes.requests,
                    plis_sent=producer.keyframes.plis_sent,
                    keyframes=c.keyframes,
                    transit_avg_us=round(transit_avg, 2),
                    transit_max_us=round(c.transit_max * 1e6, 2),
                    subscriber_loss=max((x.counters.remote_fraction_lost for x in consumers), default=0.0),
                )
            )
        for gone in set(self._prev) - seen:
            del self._prev[gone]
        return out


_METRICS: list[tuple[str, str, str, str]] = [
    # (metric name, TrackStats field, type, help)
    ("sanke_media_track_bitrate_bps", "bitrate_bps", "gauge", "Bitrate received from the publisher"),
    ("sanke_media_track_packets_total", "packets", "counter", "RTP packets received from the publisher"),
    ("sanke_media_track_packets_lost_total", "packets_lost", "counter", "Packets lost publisher to SFU"),
    ("sanke_media_track_subscribers", "subscribers", "gauge", "Subscribers receiving the track"),
    ("sanke_media_track_packets_forwarded_total", "packets_forwarded", "counter", "RTP packets forwarded"),
    ("sanke_media_track_nacks_total", "nacks", "counter", "Sequence numbers NACKed by subscribers"),
    ("sanke_media_track_retransmitted_total", "retransmitted", "counter", "RTX packets sent to subscribers"),
    ("sanke_media_track_keyframe_requests_total", "keyframe_requests", "counter", "Keyframe requests"),
    ("sanke_media_track_plis_sent_total", "plis_sent", "counter", "PLIs sent to the publisher"),
    ("sanke_media_track_keyframes_total", "keyframes", "counter", "Keyframes received"),
    ("sanke_media_track_transit_avg_us", "transit_avg_us", "gauge", "Mean SFU transit time per packet (us)"),
    ("sanke_media_track_transit_max_us", "transit_max_us", "gauge", "Max SFU transit time per packet (us)"),
    ("sanke_media_track_subscriber_loss_ratio", "subscriber_loss", "gauge", "Worst subscriber loss fraction"),
]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_WORKER_METRICS: list[tuple[str, str, str, str]] = [
    ("sanke_media_worker_rooms", "rooms", "gauge", "Rooms placed on the SFU worker"),
    ("sanke_media_worker_consumers", "consumers", "gauge", "Consumers (subscribed tracks) on the SFU worker"),
    ("sanke_media_worker_taps", "taps", "gauge", "Taps (recordings, HLS) consuming frames in the SFU worker"),
    ("sanke_media_worker_packets_per_second", "packets_per_s", "gauge", "RTP packets/s received since last scrape"),
    ("sanke_media_worker_forwarded_per_second", "forwarded_per_s", "gauge", "RTP packets/s forwarded since last scrape"),
    ("sanke_media_worker_cpu_ratio", "cpu", "gauge", "Worker CPU time per wall second since last scrape"),
    ("sanke_media_worker_loop_lag_seconds", "loop_lag", "gauge", "Worker event loop lag"),
]


def render_workers(loads: list[dict[str, Any]]) -> str:
    """Per-worker gauges (label `worker`) of the loads `media.worker` reports."""
    lines: list[str] = []
    for name, key, kind, help_text in _WORKER_METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f'{name}{{worker="{x["worker"]}",pid="{x["pid"]}"}} {x.get(key, 0)}' for x in loads)
    return "\n".join(lines) + "\n"


def render_prometheus(stats: Iterable[TrackStats]) -> str:
    """Prometheus text exposition format (0.0.4) of the given track stats."""
    rows = list(stats)
    lines: list[str] = []
    for name, field, kind, help_text in _METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for s in rows:
            labels = (
                f'room="{_label(s.room_id)}",track="{_label(s.track_id)}",'
                f'participant="{_label(s.participant_id)}",kind="{s.kind}",source="{s.source}",quality="{s.quality}"'
            )
            lines.append(f"{name}{{{labels}}} {getattr(s, field)}")
    return "\n".join(lines) + "\n"
