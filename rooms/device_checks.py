"""What a classroom PC's last device check found (课前设备检测): round trip, loss, uplink, camera and
microphone. The device board shows it beside the live figures, so a coordinator sees a weak link before
the lesson starts, not only once the video stutters. One row per classroom: the latest check replaces it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, select
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database, UTCDateTime, utcnow


class DeviceCheckRecord(Base):
    __tablename__ = "device_checks"
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id", ondelete="CASCADE"), primary_key=True)
    rtt_ms: Mapped[float] = mapped_column(Float)
    loss: Mapped[float] = mapped_column(Float)  # share of the check's pings that got no answer, 0–1
    uplink_kbps: Mapped[int] = mapped_column(Integer)
    camera_ok: Mapped[bool] = mapped_column(Boolean)
    mic_ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class DeviceCheck:
    rtt_ms: float
    loss: float
    uplink_kbps: int
    camera_ok: bool
    mic_ok: bool


def check_quality(c: DeviceCheck) -> str:
    """good | fair | poor, with the thresholds a 720p camera plus a half-size twin needs (about 1.5 Mbit/s up)."""
    if not (c.camera_ok and c.mic_ok) or c.rtt_ms > 400 or c.loss > 0.08 or c.uplink_kbps < 500:
        return "poor"
    if c.rtt_ms <= 150 and c.loss <= 0.02 and c.uplink_kbps >= 1500:
        return "good"
    return "fair"


async def save_check(db: Database, classroom_id: int, c: DeviceCheck) -> dt.datetime:
    now = utcnow()
    async with db.session() as s:
        row = await s.get(DeviceCheckRecord, classroom_id)
        if row is None:
            row = DeviceCheckRecord(classroom_id=classroom_id)
            s.add(row)
        row.rtt_ms, row.loss, row.uplink_kbps = round(c.rtt_ms, 1), round(c.loss, 3), c.uplink_kbps
        row.camera_ok, row.mic_ok, row.at = c.camera_ok, c.mic_ok, now
        await s.commit()
    return now


def check_json(row: DeviceCheckRecord) -> dict[str, Any]:
    c = DeviceCheck(row.rtt_ms, row.loss, row.uplink_kbps, row.camera_ok, row.mic_ok)
    return {"rtt_ms": row.rtt_ms, "loss": row.loss, "uplink_kbps": row.uplink_kbps, "camera_ok": row.camera_ok,
            "mic_ok": row.mic_ok, "at": row.at.isoformat(), "quality": check_quality(c)}


async def latest_checks(db: Database) -> dict[int, dict[str, Any]]:
    """Every classroom's last check, by classroom id."""
    async with db.session() as s:
        rows = (await s.execute(select(DeviceCheckRecord))).scalars()
        return {r.classroom_id: check_json(r) for r in rows}
