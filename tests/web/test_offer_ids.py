"""A classroom page echoes each subscriber offer's id; a late answer meant for a connection the SFU has since
replaced is refused as `stale_answer` and the page keeps playing, on the same session.

The page is made slow: its answers are held until the SFU has replaced its subscriber connection twice (the
re-entry path, as signaling drops a participant's media), then sent in order, the late one first. Without
offer ids the SFU's newest connection took the late answer (same m-lines), refused the page's right one, and
the page had to resume to get media again. Real Chromium, the default node (SFU worker processes).
"""

from __future__ import annotations

from typing import Any

from tests.web.conftest import LiveServer, api, login, wait_for, wait_playing
from tests.web.test_lesson import join_classroom, open_teacher
from web.keys import HUB, ROOMS

HOLD_ANSWERS = """() => {
  const c = window.sanke;
  const send = c.request.bind(c);
  window.__held = [];
  window.__refused = [];
  window.__offerIds = [];
  window.__offers = [];
  const offered = c._onSubscriberOffer.bind(c);
  c._onSubscriberOffer = (msg) => { window.__offers.push(msg.offer_id); offered(msg); };
  c.request = (msg) => {
    if (msg.type !== 'subscriber.answer') return send(msg);
    window.__offerIds.push(msg.offer_id ?? null);
    const go = () => send(msg).catch((e) => { window.__refused.push(e.code); throw e; });
    if (!window.__hold) return go();
    return new Promise((resolve, reject) => window.__held.push(() => go().then(resolve, reject)));
  };
  window.__hold = true;
}"""


def _replace_subscriber(server: LiveServer, room_id: str, pid: str) -> None:
    """What signaling does when a seat is entered again: the participant's media goes and is planned anew."""
    hub = server.app[HUB]

    async def replace() -> None:
        hub.forget_plan(room_id, pid)
        await hub.media.leave(room_id, pid)
        room = server.app[ROOMS].get(room_id)
        await hub.apply_plan(room)

    server.run(replace())


def test_a_late_answer_to_a_replaced_connection_is_refused_and_the_page_plays_on(
    new_page: Any, with_media: LiveServer
) -> None:
    county = with_media.county
    coordinator = new_page()
    login(coordinator, "coord")
    room = api(coordinator, "POST", "/api/rooms", {
        "kind": "delivery", "title": "语文 1+1", "subject": "语文", "grade": 3,
        "host_user_id": county.user_ids["wang"], "remote_classroom_ids": [county.classroom_ids["c1"]],
    })["room"]["id"]
    teacher_id = f"user:{county.user_ids['wang']}"
    classroom_id = f"classroom:{county.classroom_ids['c1']}"
    teacher = open_teacher(new_page, with_media, room)
    teacher.click("#start")
    screen, _ = join_classroom(new_page, county.codes["c1"], room)
    wait_playing(screen, teacher_id)

    screen.evaluate(HOLD_ANSWERS)
    own_camera = (f"() => [...window.sanke.room.tracks.values()].some(t => t.participant_id === '{classroom_id}'"
                  " && t.source === 'camera')")
    for held in (1, 2):
        _replace_subscriber(with_media, room, classroom_id)
        wait_for(lambda held=held: screen.evaluate("() => window.__held.length") >= held, 15, f"answer {held} held")
        wait_for(lambda: screen.evaluate(own_camera), 20, "the classroom to publish again")
    screen.evaluate("() => { window.__hold = false; for (const go of window.__held.splice(0)) go(); }")

    wait_for(lambda: screen.evaluate("() => window.__refused.length") >= 1, 10, "the late answer refused")
    assert screen.evaluate("() => window.__refused") == ["stale_answer"]
    offer_ids = screen.evaluate("() => window.__offerIds")
    assert len(offer_ids) >= 2 and all(isinstance(i, int) for i in offer_ids), offer_ids
    wait_playing(screen, teacher_id, timeout=25)
    # the SFU sent its outstanding offer again after the refusal; the page had answered it already: once
    offers = screen.evaluate("() => window.__offers")
    assert len(offers) > len(set(offers)), offers
    offer_ids = screen.evaluate("() => window.__offerIds")
    assert len(offer_ids) == len(set(offer_ids)), offer_ids
    assert screen.evaluate("() => window.sanke.rejoins") == []  # the same session, no resume needed
    assert screen.evaluate("() => window.sanke.connection") == "joined"
