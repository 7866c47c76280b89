"""A school whose firewall blocks UDP: real Chromium that may not send UDP (`disable_non_proxied_udp`) and may
use only relayed candidates (`iceTransportPolicy: 'relay'`) still has a lesson with the SFU, through a real
coturn over TCP (`turn:…?transport=tcp`) or TLS (`turns:`), with the credentials from its join reply. Frames are decoded both ways (the classroom plays
the teacher, the teacher plays the classroom) and every connection's selected candidate pair is a relay."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.turn import load_secret
from rooms.roles import RoomKind
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, seed_county, start_server
from tests.turnserver import run_turnserver
from tests.web.conftest import LiveServer, frames, login, wait_for

MIN_FRAMES = 15  # decoded video frames each way (half a second of the fake camera)

# Every RTCPeerConnection the page makes is forced to relay-only, and remembered with its configuration.
FORCE_RELAY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}) {
      const forced = { ...config, iceTransportPolicy: 'relay' };
      super(forced);
      window.__pcs.push({ pc: this, config: JSON.parse(JSON.stringify(forced)) });
    }
  };
})();
"""

# The selected candidate pair of each live connection, as the browser reports it.
SELECTED_PAIRS = """async () => {
  const out = [];
  for (const { pc, config } of window.__pcs) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) continue;
    const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
    out.push({ local: local.candidateType, relayProtocol: local.relayProtocol, localAddress: local.address,
               remote: remote.candidateType, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
               iceServers: config.iceServers, policy: config.iceTransportPolicy });
  }
  return out;
}"""


DIAG = """async () => {
  const out = [];
  for (const { pc } of window.__pcs) {
    const stats = await pc.getStats();
    const c = [];
    stats.forEach((s) => { if (s.type.endsWith('candidate')) c.push(`${s.type}:${s.candidateType}:${s.protocol}:${s.relayProtocol||''}:${s.address}:${s.port}`);
                           if (s.type === 'candidate-pair') c.push(`pair:${s.state}:${s.nominated}`); });
    out.push({ state: pc.connectionState, ice: pc.iceConnectionState, gather: pc.iceGatheringState, c });
  }
  const k = window.sanke;
  out.push({ conn: k && k.connection, sub: !!(k && k.sub), pub: !!(k && k.pub), tracks: k ? [...k.room.tracks.values()].map((t) => `${t.participant_id}/${t.source}/${t.quality}`) : [],
             marks: k ? Object.keys(k.marks || {}) : [], remote: k ? k.remote.size : -1 });
  return JSON.stringify(out);
}"""


@pytest.fixture(scope="module", params=["tcp", "tls"])
def turn_lesson(request: pytest.FixtureRequest) -> Iterator[tuple[LiveServer, Any, str]]:
    """coturn on 127.0.0.1, the platform handing out `turn:…?transport=tcp` (or `turns:` for TLS, with a
    self-signed certificate for 'localhost'), a 1+1 delivery room."""
    transport = request.param
    tmp = Path(tempfile.mkdtemp(prefix="sanke-turn-"))
    secret = load_secret(tmp / "data")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sanke-turn-server", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    try:
        with run_turnserver(secret, tmp / "turn", tls=transport == "tls") as turn:
            server, runner = run(start_server(tmp, with_media=True, turn_urls=[turn.url(transport)]))
            try:
                from web.keys import DB

                county = run(seed_county(server.app[DB], RoomKind.DELIVERY, remotes=1))
                yield LiveServer(server.url, server.app, county, loop), turn, transport
            finally:
                run(runner.cleanup())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def udp_blocked_browser(browser: Any) -> Iterator[Any]:
    """A second Chromium from the same Playwright (its sync API cannot be started twice), UDP forbidden."""
    blocked = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        # the TLS case's coturn has a self-signed certificate for 'localhost'
        args=[*CHROMIUM_ARGS, "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
              "--ignore-certificate-errors"],
    )
    try:
        yield blocked
    finally:
        blocked.close()


@pytest.mark.solo  # real-time media through coturn: one connection was late to carry media under two workers
def test_lesson_through_turn_over_tcp_or_tls_when_udp_is_blocked(turn_lesson, udp_blocked_browser) -> None:
    server, turn, transport = turn_lesson
    county = server.county
    contexts = []

    def page_for() -> Any:
        ctx = udp_blocked_browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 720},
                                              locale="zh-CN")
        ctx.set_default_timeout(20_000)
        ctx.add_init_script(FORCE_RELAY)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: print(f"[pageerror] {e}"))
        return page

    try:
        teacher = page_for()
        login(teacher, "wang", next_path=f"/teacher?room={county.room_id}")
        teacher.wait_for_selector("#conn[data-state='joined']")
        teacher.click("#start")
        teacher.wait_for_selector("body[data-room-state='live']")
        screen = page_for()
        screen.goto(f"/classroom?room={county.room_id}")
        screen.fill("#code", county.codes["c1"])
        screen.click("#join")
        screen.wait_for_selector("#conn[data-state='joined']")

        teacher_id = f"user:{county.user_ids['wang']}"
        classroom_id = f"classroom:{county.classroom_ids['c1']}"
        def decoded() -> dict[str, int] | None:
            got = {"teacher→classroom": frames(screen).get(teacher_id, {}).get("framesDecoded", 0),
                   "classroom→teacher": frames(teacher).get(classroom_id, {}).get("framesDecoded", 0)}
            return got if min(got.values()) >= MIN_FRAMES else None

        try:  # both ways at once: SFU → classroom and classroom → SFU → teacher, each through the relay
            print(f"\n  frames decoded through TURN/{transport}: {wait_for(decoded, 40, 'frames both ways')}")
        except AssertionError:
            for pg in (teacher, screen):
                print("connections:", pg.evaluate(DIAG))
            print("coturn:", turn.log.read_text(errors="replace")[-3000:])
            raise

        for page in (teacher, screen):
            # both connections carry media (a subscriber connection may start, or be offered anew, a moment
            # after the other's frames are decoded)
            pairs = wait_for(lambda p=page: (lambda got: got if len(got) >= 2 and all(
                x["bytesSent"] + x["bytesReceived"] > 5_000 for x in got) else None)(p.evaluate(SELECTED_PAIRS)),
                15, "both connections of the page to select a pair and carry media")
            print(f"\n  selected pairs: {pairs}")
            for pair in pairs:  # the publisher and the subscriber connection
                assert pair["policy"] == "relay"
                assert pair["local"] == "relay" and pair["relayProtocol"] == transport, pair
                assert pair["bytesSent"] + pair["bytesReceived"] > 5_000, pair  # media, not only ICE checks
                (ice,) = pair["iceServers"]
                assert ice["urls"] == [turn.url(transport)] and ice["username"].split(":", 1)[0].isdigit()
        log = turn.log.read_text(errors="replace")  # coturn allocated for each connection, over TCP
        assert log.count("incoming packet ALLOCATE processed, success") >= 4 and "tcp or tls connected" in log
        assert f"user_{county.user_ids['wang']}>" in log and f"classroom_{county.classroom_ids['c1']}>" in log
    finally:
        for ctx in contexts:
            ctx.close()
