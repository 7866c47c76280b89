"""Seed a load-test county: one delivery room and N remote classrooms, their join codes in a file.

    python -m loadtest.seed --data-dir var --classrooms 200 --codes var/load-codes.txt
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from core.db import Database
from core.directory import Classroom, School
from core.settings import Settings
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from web.api.directory import new_join_code


async def seed(settings: Settings, classrooms: int, codes_path: Path) -> str:
    settings.prepare()
    db = Database(settings.db_url)
    try:
        await db.migrate()
        async with db.session() as s:
            n = len(codes_path.read_text().split()) if codes_path.exists() else 0
            hub = School(name=f"压测中心校{n}", kind="hub")
            s.add(hub)
            await s.flush()
            rooms = []
            for i in range(classrooms):
                school = School(name=f"压测村小{n}-{i}", kind="remote")
                s.add(school)
                await s.flush()
                c = Classroom(school_id=school.id, name="四年级", grade=4, join_code=new_join_code())
                s.add(c)
                rooms.append(c)
            await s.flush()
            room = await create_room(s, RoomSpec(kind=RoomKind.DELIVERY, title="压测 1+N",
                                                 remote_classroom_ids=[c.id for c in rooms], stage_seats=6))
            await s.commit()
            codes_path.write_text("\n".join(c.join_code for c in rooms) + "\n")
            return room.id
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loadtest.seed")
    ap.add_argument("--data-dir", default="var")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--classrooms", type=int, default=200)
    ap.add_argument("--codes", default="var/load-codes.txt")
    args = ap.parse_args(argv)
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url)
    room_id = asyncio.run(seed(settings, args.classrooms, Path(args.codes)))
    print(f"room {room_id}: {args.classrooms} classroom codes in {args.codes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
