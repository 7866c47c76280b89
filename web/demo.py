"""The demo county: one hub school, three remote schools, accounts and a 1+3 English lesson ready to start.

Passwords are generated on seeding (none is in the repo) and kept in <data_dir>/demo-accounts.txt.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.directory import Classroom, School, User
from rooms.records import RoomMember, RoomRecord
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from web.api.directory import new_join_code
from web.passwords import hash_password

HUB = "城关第一小学"
REMOTES = ["白石村小学", "青山镇中心小学", "河口村小学"]
ACCOUNTS = [
    ("coordinator", "李主任（县教育局）", "coordinator", None, ""),
    ("wang.english", "王老师（英语）", "teacher", HUB, "英语"),
    ("zhao.music", "赵老师（音乐）", "teacher", HUB, "音乐"),
    ("observer", "陈督学", "observer", None, ""),
]
DEMO_ROOM = "英语 1+3"


async def seed_demo(db: Database, data_dir: Path) -> str:
    """Seed once; every later call only reports what is there. Returns the text to print."""
    async with db.session() as s:
        seeded = (await s.execute(select(User).where(User.username == "coordinator"))).scalar_one_or_none()
        if seeded is None:
            hub = School(name=HUB, kind="hub", county="示范县")
            s.add(hub)
            remotes = [School(name=n, kind="remote", county="示范县") for n in REMOTES]
            s.add_all(remotes)
            await s.flush()
            hub_class = Classroom(school_id=hub.id, name="四年级(1)班", grade=4, students=45, join_code=new_join_code())
            s.add(hub_class)
            classrooms = [
                Classroom(school_id=r.id, name="四年级", grade=4, students=12 + 3 * i, join_code=new_join_code())
                for i, r in enumerate(remotes)
            ]
            s.add_all(classrooms)
            lines = []
            users = {}
            schools = {HUB: hub.id}
            for username, name, role, school, subject in ACCOUNTS:
                password = secrets.token_urlsafe(9)
                u = User(username=username, display_name=name, password_hash=hash_password(password), role=role,
                         school_id=schools.get(school or ""), subject=subject)
                s.add(u)
                users[username] = u
                lines.append(f"  {username:<14} {password:<14} {name}")
            await s.flush()
            await create_room(s, RoomSpec(
                kind=RoomKind.DELIVERY, title=DEMO_ROOM, subject="英语", grade=4,
                host_user_id=users["wang.english"].id, hub_classroom_ids=[hub_class.id],
                remote_classroom_ids=[c.id for c in classrooms],
            ))
            await s.commit()
            (data_dir / "demo-accounts.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            data_dir.joinpath("demo-accounts.txt").chmod(0o600)
        accounts = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8")
        rooms = (await s.execute(select(RoomRecord).where(RoomRecord.title == DEMO_ROOM))).scalars().all()
        codes = (await s.execute(
            select(School.name, Classroom.name, Classroom.join_code)
            .join(Classroom, Classroom.school_id == School.id).order_by(Classroom.id)
        )).all()
        members = (await s.execute(select(RoomMember).where(RoomMember.room_id.in_([r.id for r in rooms])))).scalars()
        n_members = len(list(members))
    out = ["Sanke demo county (示范县)", "", "Accounts (username, password, name):", accounts.rstrip(), "",
           "Classroom join codes:"]
    out += [f"  {code}  {school} {name}" for school, name, code in codes]
    out += ["", "Rooms:"] + [f"  {r.id}  {r.title} ({r.kind}, {r.state}, {n_members} members)" for r in rooms]
    return "\n".join(out)
