"""The library pages in a real browser: a published lesson is listed, found by a knowledge point, and its
playback page shows the MP4 with one timeline tick per marker."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from recorder.composite import CompositeSettings, compose
from recorder.finalise import finalise
from recorder.models import KnowledgePoint
from recorder.recording import Recording, TrackInfo
from recorder.resources import LessonFacts, create_from_recording, set_catalogue
from recorder.review import Actor, apply_review
from recorder.testclip import looped
from tests.conftest import CHROMIUM_ARGS, require_chromium, seed_county, start_server
from web.api.library import LIBRARY, ensure_curriculum
from web.keys import DB


async def test_library_and_playback_pages(tmp_path, camera_clip, mic_clip):
    from playwright.async_api import async_playwright

    chromium = require_chromium()

    server, runner = await start_server(tmp_path)
    try:
        app = server.app
        county = await seed_county(app[DB])
        await ensure_curriculum(app)
        clock = [100.0]
        recording = Recording(app[LIBRARY].root, "rec-page", county.room_id, clock=lambda: clock[0])
        recording.start()
        sinks = {
            "cam": recording.add_track(
                TrackInfo("cam", "t", "video", "camera", "VP8", "王老师", "hub_teacher")
            ),
            "mic": recording.add_track(TrackInfo("mic", "t", "audio", "microphone", "opus")),
        }
        for frame in sorted([*looped(camera_clip, 4, "cam", arrival_base=100), *looped(mic_clip, 4, "mic", arrival_base=100)],
                            key=lambda f: f.arrival):  # fmt: skip
            sinks[frame.track_id](frame)
        recording.mark("hand_raised", participant_id="c1", label="村小1 四年级", at=101.0)
        recording.mark("stage_on", participant_id="c1", label="村小1 四年级", at=102.0)
        clock[0] += 4
        recording.stop()
        index = finalise(recording.directory)
        compose(
            recording.directory, index, CompositeSettings(width=160, height=92, fps=5, preset="ultrafast")
        )
        async with app[DB].session() as s:
            facts = LessonFacts(room_id=county.room_id, title="Unit 3 Weather", subject="英语", grade=4,
                                teacher_user_id=county.user_ids["wang"], teacher_name="王老师", school_name="城关一小",
                                started_at=datetime(2026, 11, 20, 2, tzinfo=UTC))  # fmt: skip
            r = await create_from_recording(s, facts, "rec-page", index)
            weather = (
                await s.execute(select(KnowledgePoint).where(KnowledgePoint.name == "天气"))
            ).scalar_one()
            await set_catalogue(s, r, knowledge_point_ids=[weather.id])
            wang = Actor(county.user_ids["wang"], "wang", "teacher")
            coord = Actor(county.user_ids["coord"], "coord", "coordinator")
            await apply_review(s, wang, r, "submit")
            await apply_review(s, coord, r, "approve")
            await apply_review(s, coord, r, "publish", scope="public")
            await s.commit()

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{server.url}/library")
            await page.wait_for_selector(".card a")
            assert await page.inner_text(".card a") == "Unit 3 Weather"
            assert "共 1 个资源" in await page.inner_text("#count")
            await page.select_option("#framework", label="小学英语")
            await page.click("#knowledge >> text=天气")
            await page.wait_for_selector("#filters .chip")
            assert await page.locator(".card").count() == 1
            await page.click(".card a")
            await page.wait_for_selector("video")
            # anonymous may watch but not download: it plays the tracks, never the MP4 (issue 9: the MP4 is the download)
            src = await page.get_attribute("video", "src")
            assert "/media/track-" in src and not src.endswith("lesson.mp4"), src
            await page.wait_for_selector(".timeline .tick")
            assert await page.locator(".timeline .tick").count() == 2
            assert "举手" in await page.inner_text("#markers")
            assert (
                await page.locator("#catalogue >> text=下载 MP4").count() == 0
            )  # anonymous: watch, no download
            await browser.close()
        assert errors == []
    finally:
        await runner.cleanup()
