"""A recorded lesson becomes a resource: metadata from its lesson, found by knowledge point and text,
related resources through associations, review steps allowed and denied by role, each step audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.directory import User
from recorder.models import KnowledgePoint, Resource, TextbookNode
from recorder.related import related
from recorder.resources import LessonFacts, create_from_recording, resource_json, set_catalogue
from recorder.review import ANONYMOUS, Actor, ReviewError, allowed_actions, apply_review
from recorder.search import Query, search


async def actor(s, username: str) -> Actor:
    u = (await s.execute(select(User).where(User.username == username))).scalar_one()
    return Actor(u.id, u.username, u.role, u.school_id)


async def point(s, name: str) -> KnowledgePoint:
    return (await s.execute(select(KnowledgePoint).where(KnowledgePoint.name == name))).scalar_one()


async def node(s, name: str) -> TextbookNode:
    return (await s.execute(select(TextbookNode).where(TextbookNode.name == name))).scalar_one()


async def lesson(s, teacher: str, title: str, recording_id: str, *, subject="数学", grade=7) -> Resource:
    t = await actor(s, teacher)
    facts = LessonFacts(
        room_id=f"room-{recording_id}", title=title, room_kind="delivery", subject=subject, grade=grade,
        teacher_user_id=t.user_id, teacher_name={"wang": "王老师", "chen": "陈老师", "liu": "刘老师"}[teacher],
        school_id=t.school_id, school_name="城关第一小学" if teacher != "chen" else "白石村小学",
        classrooms=["城关第一小学 七年级(1)班", "白石村小学 七年级"],
        started_at=datetime(2026, 11, 23, 1, 0, tzinfo=UTC), timetable_ref="王老师@1.2",
    )  # fmt: skip
    return await create_from_recording(s, facts, recording_id)


async def publish(s, r: Resource, scope: str = "county") -> None:
    owner = Actor(r.teacher_user_id, "owner", "teacher")
    await apply_review(s, owner, r, "submit")
    await apply_review(s, await actor(s, "coord"), r, "approve")
    await apply_review(s, await actor(s, "coord"), r, "publish", scope=scope)


async def test_resource_gets_lesson_metadata_and_is_found_by_knowledge_point_and_text(library_db):
    async with library_db.session() as s:
        r = await lesson(s, "wang", "有理数的加法（一）", "rec-1")
        assert await lesson(s, "wang", "ignored", "rec-1") is r  # one resource per recording
        section = await node(s, "1.3 有理数的加减法")
        addition = await point(s, "有理数的加法")
        await set_catalogue(s, r, textbook_node_id=section.id, knowledge_point_ids=[addition.id])
        other = await lesson(s, "wang", "解一元一次方程", "rec-2")
        await set_catalogue(s, other, knowledge_point_ids=[(await point(s, "解一元一次方程")).id])
        for res in (r, other):
            await publish(s, res)
        await s.commit()

        data = await resource_json(s, r, detail=True)
        assert data["stage"] == "初中" and data["grade_name"] == "七年级" and data["subject"] == "数学"
        assert data["date"] == "2026-11-23" and data["teacher"]["name"] == "王老师"
        assert data["school"]["name"] == "城关第一小学" and data["timetable_ref"] == "王老师@1.2"
        assert "白石村小学 七年级" in data["classrooms"]
        assert [n["name"] for n in data["textbook"]] == [
            "初中", "七年级", "数学", "人教版", "上册", "第一章 有理数", "1.3 有理数的加减法"
        ]  # fmt: skip

        teacher = await actor(s, "chen")
        by_point = await search(s, Query(knowledge_point_id=addition.id), teacher)
        assert [x.id for x in by_point.resources] == [r.id]
        by_unit = await search(s, Query(knowledge_point_id=(await point(s, "有理数")).id), teacher)
        assert [x.id for x in by_unit.resources] == [r.id]  # a unit finds the lessons on its points
        for text in ("加法", "有理数 王老师", "1.3", "白石村", "有理数加法", "有理数的加减"):
            found = await search(s, Query(text=text), teacher)
            assert r.id in [x.id for x in found.resources], text
        nobody = await search(s, Query(text="加法 赵老师"), teacher)
        assert nobody.relaxed  # no lesson has every word: the answer says it shows partial matches
        chapter = await node(s, "第一章 有理数")
        assert [x.id for x in (await search(s, Query(textbook_node_id=chapter.id), teacher)).resources] == [
            r.id
        ]
        everything = await search(s, Query(subject="数学", grade=7), teacher)
        assert everything.total == 2
        assert dict(everything.facets["teacher_name"]) == {"王老师": 2}
        assert (await search(s, Query(text="加法", subject="英语"), teacher)).total == 0


async def test_related_resources_follow_the_knowledge_associations(library_db):
    async with library_db.session() as s:
        add = await lesson(s, "wang", "有理数的加法", "rec-a")
        sub = await lesson(s, "liu", "有理数的减法", "rec-s")
        add2 = await lesson(s, "chen", "有理数加法练习", "rec-a2")
        geo = await lesson(s, "wang", "角", "rec-g")
        await set_catalogue(s, add, knowledge_point_ids=[(await point(s, "有理数的加法")).id])
        await set_catalogue(s, sub, knowledge_point_ids=[(await point(s, "有理数的减法")).id])
        await set_catalogue(s, add2, knowledge_point_ids=[(await point(s, "有理数的加法")).id])
        await set_catalogue(s, geo, knowledge_point_ids=[(await point(s, "余角和补角")).id])
        for res in (add, sub, add2, geo):
            await publish(s, res)
        found = await related(s, add, await actor(s, "wang"))
        assert [(x.resource.id, x.reason) for x in found] == [
            (add2.id, "same_knowledge"),
            (sub.id, "precedes"),
        ]
        assert found[1].via == ["有理数的减法"]


async def test_review_steps_are_allowed_and_denied_by_role_and_audited(library_db):
    async with library_db.session() as s:
        r = await lesson(s, "wang", "Unit 3 At the zoo", "rec-r", subject="英语", grade=3)
        wang, liu, chen = [await actor(s, n) for n in ("wang", "liu", "chen")]
        coord, coord2, inspector = [await actor(s, n) for n in ("coord", "coord2", "inspector")]
        guest = await actor(s, "guest")

        async def denied(who: Actor, action: str, code: str = "forbidden", **kw) -> None:
            with pytest.raises(ReviewError) as err:
                await apply_review(s, who, r, action, **kw)
            assert err.value.code == code, (who.username, action)

        assert allowed_actions(wang, r) == ["submit"] and allowed_actions(liu, r) == []
        for who in (liu, chen, inspector, guest, ANONYMOUS):
            await denied(who, "submit")
        await denied(coord, "approve", "wrong_status")
        await apply_review(s, coord, r, "submit")
        await apply_review(s, coord, r, "return", comment="请补充章节")
        assert r.status == "draft"
        await apply_review(s, wang, r, "submit")
        assert r.status == "submitted"
        for who in (wang, liu, inspector, guest):
            await denied(who, "approve")
        await apply_review(s, coord, r, "approve")
        await denied(wang, "publish")
        await denied(coord, "publish", "invalid_field", scope="world")
        await apply_review(s, coord2, r, "publish", scope="school")
        assert (r.status, r.scope) == ("published", "school")
        await s.commit()

        async def sees(who: Actor) -> bool:
            return r.id in [x.id for x in (await search(s, Query(), who)).resources]

        assert await sees(liu) and await sees(inspector) and await sees(wang)
        assert not await sees(chen) and not await sees(guest) and not await sees(ANONYMOUS)
        await denied(chen, "unpublish")
        await apply_review(s, wang, r, "unpublish")
        await s.commit()
        assert not await sees(liu)

        steps = (
            (
                await s.execute(
                    select(AuditEntry).where(AuditEntry.target == f"resource:{r.id}").order_by(AuditEntry.id)
                )
            )
            .scalars()
            .all()
        )
        assert [(e.actor, e.action) for e in steps] == [
            ("coord", "library.submit"), ("coord", "library.return"), ("wang", "library.submit"),
            ("coord", "library.approve"), ("coord2", "library.publish"), ("wang", "library.unpublish"),
        ]  # fmt: skip


async def test_a_coordinator_does_not_approve_their_own_submission(library_db):
    async with library_db.session() as s:
        r = await lesson(s, "wang", "Unit 1 Hello!", "rec-x", subject="英语", grade=3)
        coord, coord2 = await actor(s, "coord"), await actor(s, "coord2")
        await apply_review(s, coord, r, "submit")
        with pytest.raises(ReviewError):
            await apply_review(s, coord, r, "approve")
        await apply_review(s, coord2, r, "approve")
        assert r.status == "approved"
