"""Real Chromium watches a broadcast over HLS: a teacher bot publishes H.264 with a frame number drawn in
every picture; the watch page (hls.js) plays it; the test reads the number back from the video's pixels
and measures how long ago the bot sent that frame (glass-to-glass latency), and the teacher's console
count of HLS viewers sees the page.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from loadtest.bots import WsSignal
from loadtest.broadcast_bots import H264Teacher
from rooms.planning import Plan, create_planned_room
from rooms.roles import Role, RoomKind, grants_for
from tests.web.conftest import LiveServer, api, login, wait_for
from web.api.hls import HLS
from web.keys import DB, ROOMS, TOKENS

MAX_LATENCY_S = 8.0

# Reads the clip's 16-bit band (web/demo/clip.py: 8 blocks of 16 px per row, two rows) from the video.
READ_NUMBER = """() => {
  const v = document.getElementById('hls-video');
  if (!v || !v.videoWidth || v.readyState < 2) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  let value = 0;
  for (let bit = 0; bit < 16; bit++) {
    const row = Math.floor(bit / 8), col = bit % 8;
    const d = g.getImageData(col * 16 + 4, row * 16 + 4, 8, 8).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    if (sum / (d.length / 4) >= 125) value |= 1 << bit;
  }
  const n = value & 0xfff;
  return ((value >> 12) === ((n * 7 + 3) & 0xf)) ? { n, at: Date.now() } : null;
}"""


def test_chromium_plays_the_broadcast_over_hls_within_8_s(new_page: Any, with_media: LiveServer) -> None:
    srv = with_media
    app = srv.app

    async def setup() -> tuple[str, str, H264Teacher, WsSignal]:
        plan = Plan(kind=RoomKind.BROADCAST, title="名校网络课堂 · HLS", host_user_id=srv.county.user_ids["wang"],
                    public=True)
        room, row, _ = await create_planned_room(app[DB], plan, "coord")
        grants = grants_for(Role.HUB_TEACHER, RoomKind.BROADCAST, room.id)
        token = app[TOKENS].issue_join("hls-teacher", "王老师", "hub_teacher", grants, ttl=600, meta={"side": "hub"})
        signal = WsSignal(srv.url, token)
        teacher = H264Teacher("hls-teacher", signal)
        await signal.connect(teacher)  # type: ignore[arg-type]
        await teacher.publish()
        return room.id, str(row.link_key), teacher, signal

    room_id, key, teacher, signal = srv.run(setup())
    try:
        wait_for(lambda: (s := app[HLS].stream(room_id)) is not None and len(s.segments) >= 3, 30, "HLS segments")
        page = new_page()
        page.goto(f"/watch?room={room_id}&key={key}")
        page.wait_for_selector("#hls-video", timeout=20_000)
        page.wait_for_function("() => window.sankeHls && window.sankeHls.stats().currentTime > 1", timeout=30_000)
        assert page.locator("#hls-tile .badge.b-live").inner_text() == "直播"
        assert "名校网络课堂 · HLS" in page.title()

        readings: list[tuple[int, float]] = []
        deadline = time.monotonic() + 20
        while len(readings) < 8 and time.monotonic() < deadline:
            got = page.evaluate(READ_NUMBER)
            if got is not None:
                readings.append((got["n"], got["at"] / 1000))
            page.wait_for_timeout(500)
        assert len(readings) >= 6, f"frame numbers readable from the video: {readings}"
        numbers = [n for n, _ in readings]
        assert numbers[-1] != numbers[0] and all((b - a) % 4096 < 2048 for a, b in zip(numbers, numbers[1:], strict=False)), (
            f"frames advance: {numbers}"
        )
        latencies = [at - teacher.video.sent_at[n] for n, at in readings if n in teacher.video.sent_at]
        median = statistics.median(latencies)
        print(f"hls latency s: median {median:.2f} max {max(latencies):.2f} ({len(latencies)} readings)")
        assert median <= MAX_LATENCY_S, f"glass-to-glass latency {latencies}"
        shown = page.locator("#hls-latency").inner_text()
        assert shown.startswith("延迟") and shown.endswith("秒"), shown

        # the teacher's console counts this page among the HLS viewers
        staff = new_page()
        login(staff, "wang")
        audience = api(staff, "GET", f"/api/hls/{room_id}/audience")
        assert audience["viewers"] == 1 and audience["state"] == "live", audience
        # the host opens the broadcast's console: its badge shows the count, and Chromium's own camera is
        # sent as H.264 in a broadcast room (sanke-client.js prefers it there)
        staff.goto(f"/coteach?room={room_id}")
        staff.wait_for_function("() => document.getElementById('hls-audience')?.dataset.viewers === '1'",
                                timeout=20_000)
        assert staff.locator("#hls-audience").inner_text() == "HLS 观众 1"

        def chromium_camera() -> list[str]:
            room = app[ROOMS].get(room_id)
            return [t.codec for t in room.tracks.values() if t.kind == "video" and t.participant_id != "hls-teacher"]

        codecs = wait_for(chromium_camera, 20, "the console's camera track")
        assert codecs == ["H264"], codecs
    finally:
        srv.run(teacher.close())
        srv.run(signal.close())
