"""A node that stopped mid-lesson finalises the recording on its next start and files it in the library
with the metadata of its room."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from recorder.models import Resource
from recorder.recording import Recording, TrackInfo
from recorder.testclip import looped
from tests.conftest import seed_county, start_server
from web.api.library import LIBRARY
from web.keys import DB


async def test_unfinished_recording_is_finalised_and_filed_on_start(tmp_path, camera_clip, mic_clip):
    server, runner = await start_server(tmp_path)
    county = await seed_county(server.app[DB])
    root = server.app[LIBRARY].root
    await runner.cleanup()

    recording = Recording(root, "rec-crashed", county.room_id, room_kind="delivery", title="英语 1+3")
    recording.start()
    sinks = {
        "cam": recording.add_track(
            TrackInfo("cam", "user:1", "video", "camera", "VP8", "王老师", "hub_teacher")
        ),
        "mic": recording.add_track(
            TrackInfo("mic", "user:1", "audio", "microphone", "opus", "王老师", "hub_teacher")
        ),
    }
    now = time.monotonic()
    for frame in sorted([*looped(camera_clip, 5, "cam", arrival_base=now), *looped(mic_clip, 5, "mic", arrival_base=now)],
                        key=lambda f: f.arrival):  # fmt: skip
        sinks[frame.track_id](frame)
    recording.stop()  # the process ends here: segments on disk, never finalised

    server, runner = await start_server(tmp_path)
    try:
        library = server.app[LIBRARY]
        (index,) = library.recorder.finished
        assert index.recording_id == "rec-crashed" and len(index.tracks) == 2
        async with server.app[DB].session() as s:
            resource = (await s.execute(select(Resource))).scalar_one()
        assert (resource.recording_id, resource.title, resource.subject, resource.grade) == (
            "rec-crashed", "英语 1+3", "英语", 4
        )  # fmt: skip
        assert resource.teacher_name == "王老师" and resource.status == "draft"
        job = library.composites.status("rec-crashed")
        assert job is not None
        library.composites.settings = library.composites.settings.__class__(
            width=160, height=92, fps=5, preset="ultrafast"
        )
        await asyncio.wait_for(library.composites.join(), 60)
        assert job.state == "done" and (root / "rec-crashed" / "lesson.mp4").is_file()
    finally:
        await runner.cleanup()
