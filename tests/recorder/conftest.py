from __future__ import annotations

import pytest

from recorder.testclip import Clip, audio_clip, video_clip


@pytest.fixture(scope="session")
def camera_clip() -> Clip:
    return video_clip(2.0, rgb=(0, 160, 0))


@pytest.fixture(scope="session")
def screen_clip() -> Clip:
    return video_clip(2.0, rgb=(0, 0, 200), width=192, height=144)


@pytest.fixture(scope="session")
def mic_clip() -> Clip:
    return audio_clip(2.0)


@pytest.fixture
async def library_db(db_url):
    """A migrated database (SQLite, and PostgreSQL when it runs) with a small county and the curriculum."""
    from core.db import Database
    from core.directory import School, User
    from recorder.catalogue import import_sample_textbooks
    from recorder.knowledge import import_samples

    db = Database(db_url)
    await db.migrate()
    async with db.session() as s:
        hub, remote = School(name="城关第一小学", kind="hub"), School(name="白石村小学", kind="remote")
        s.add_all([hub, remote])
        await s.flush()
        for username, name, role, school in [
            ("coord", "李主任", "coordinator", None),
            ("coord2", "周主任", "coordinator", None),
            ("wang", "王老师", "teacher", hub.id),
            ("liu", "刘老师", "teacher", hub.id),
            ("chen", "陈老师", "teacher", remote.id),
            ("inspector", "陈督学", "observer", None),
            ("guest", "访客", "viewer", None),
        ]:
            s.add(User(username=username, display_name=name, password_hash="x", role=role, school_id=school))
        await import_sample_textbooks(s)
        await import_samples(s)
        await s.commit()
    yield db
    await db.close()
