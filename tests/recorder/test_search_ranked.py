"""Ranked search on SQLite and PostgreSQL: the lesson a teacher means comes first (by text, by a named
knowledge point or its ancestor, by the textbook axes), facets keep counts, drafts of others stay hidden,
mixed Chinese/English/number queries segment as the index does, and hostile input never breaks it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from recorder import segment
from recorder.models import KnowledgePoint, Resource, TextbookNode
from recorder.resources import set_catalogue
from recorder.review import Actor
from recorder.search import Query, search
from tests.recorder.test_library_resources import actor, lesson, publish

HOSTILE = [
    "", "   ", '"', '""', "*", "有理数*", "NEAR(有理数 加法)", "a OR b AND NOT c", "'; DROP TABLE lib_resources; --",
    "\x00\x01\x07\x1b[31m", "加法" * 2500, "(((", "^有理数", "col:加法", "\u202e\u200b", "😀📚",
]  # fmt: skip


async def _node(s, name: str, under: str | None = None) -> TextbookNode:
    rows = (await s.execute(select(TextbookNode).where(TextbookNode.name == name))).scalars().all()
    if under:
        parents = {n.id for n in (await s.execute(select(TextbookNode).where(TextbookNode.name == under))).scalars()}
        rows = [r for r in rows if r.parent_id in parents]
    return rows[0]


async def _kp(s, name: str) -> int:
    return (await s.execute(select(KnowledgePoint.id).where(KnowledgePoint.name == name))).scalar_one()


@pytest.fixture
async def shelf(library_db):
    """Published lessons: two on 有理数的加法 (one only filed, one only titled), one on 天气 in 四年级,
    a 三年级 lesson that mentions 天气 in passing, a lesson on 方程, and a colleague's draft on 加法."""
    async with library_db.session() as s:
        made = {}
        filed = await lesson(s, "wang", "数学同步课堂", "r-filed")
        await set_catalogue(s, filed, textbook_node_id=(await _node(s, "1.3 有理数的加减法")).id,
                            knowledge_point_ids=[await _kp(s, "有理数的加法")])  # fmt: skip
        made["filed"] = filed
        made["titled"] = await lesson(s, "liu", "有理数加法练习课", "r-titled")
        weather = await lesson(s, "wang", "英语示范课", "r-weather", subject="英语", grade=4)
        unit = await _node(s, "Unit 3 Weather")
        await set_catalogue(s, weather, textbook_node_id=(await _node(s, "Part A", unit.name)).id,
                            knowledge_point_ids=[await _kp(s, "天气"), await _kp(s, "询问和描述天气")])  # fmt: skip
        made["weather"] = weather
        passing = await lesson(s, "chen", "三年级英语 复习课", "r-passing", subject="英语", grade=3)
        await set_catalogue(s, passing, description="课前聊了聊今天的天气")
        made["passing"] = passing
        eq = await lesson(s, "chen", "解一元一次方程（一）", "r-eq")
        await set_catalogue(s, eq, knowledge_point_ids=[await _kp(s, "解一元一次方程")])
        made["eq"] = eq
        for r in made.values():
            await publish(s, r)
        made["draft"] = await lesson(s, "liu", "有理数的加法 草稿", "r-draft")
        await s.commit()
    return library_db, made


async def _ids(db, text: str, who: str = "chen", **kw) -> list[int]:
    async with db.session() as s:
        return [r.id for r in (await search(s, Query(text=text, **kw), await actor(s, who))).resources]


async def test_the_lesson_a_teacher_means_comes_first(shelf):
    db, made = shelf
    found = await _ids(db, "有理数加法")
    assert set(found[:2]) == {made["filed"].id, made["titled"].id} and made["draft"].id not in found
    weather = await _ids(db, "四年级英语 天气")
    assert weather[0] == made["weather"].id and made["passing"].id in weather  # in passing ranks lower
    assert (await _ids(db, "What's the weather like"))[:1] == [made["weather"].id]
    assert (await _ids(db, "四下 Unit3 Part A"))[:1] == [made["weather"].id]  # teachers' shorthand
    # Naming an ancestor knowledge point (数与代数 → 有理数 → 有理数的加法) finds what is tagged below it.
    assert made["filed"].id in await _ids(db, "数与代数")
    assert made["eq"].id in await _ids(db, "方程")


async def test_facets_count_the_matches_and_scope_holds(shelf):
    db, made = shelf
    async with db.session() as s:
        chen = await actor(s, "chen")
        result = await search(s, Query(text="有理数 加法"), chen)
        assert result.total == 2 and dict(result.facets["teacher_name"]) == {"王老师": 1, "刘老师": 1}
        assert all(v > 0 for v in result.scores.values())
        english = await search(s, Query(text="英语"), chen)
        assert english.total == 2 and dict(english.facets["grade"]) == {"4": 1, "3": 1}
        assert (await search(s, Query(text="有理数 加法", subject="英语"), chen)).total == 0
        liu = await actor(s, "liu")  # the draft's own teacher sees it; nobody else does
        assert made["draft"].id in [r.id for r in (await search(s, Query(text="加法 草稿"), liu)).resources]
        guest = Actor(None, "", "")
        hidden = await search(s, Query(text="加法"), guest)
        assert all(r.scope != "school" and r.status == "published" for r in hidden.resources)


def test_mixed_chinese_english_and_numbers_segment_like_the_index():
    assert segment.query_terms("四年级英语Unit3 Part A") == ["四年", "年级", "四年级", "英语", "unit", "3", "part", "a"]
    assert segment.query_terms("有理数的加法2026年") == ["有理", "有理数", "加法", "2026", "年"]
    assert segment.query_terms("What's the weather like?") == ["what", "s", "the", "weather", "like"]
    assert segment.index_text("1.3 有理数的加减法") == "1 3 有理 有理数 加减 减法 加减法"
    assert len(segment.query_terms("加法 " * 5000)) <= segment.MAX_QUERY_TERMS


async def test_hostile_queries_answer_with_results_never_an_error(shelf):
    db, made = shelf
    async with db.session() as s:
        chen = await actor(s, "chen")
        for text in HOSTILE:
            result = await search(s, Query(text=text), chen)
            assert result.total >= 0, text
        assert made["filed"].id in [r.id for r in (await search(s, Query(text='"有理数*" NEAR 加法'), chen)).resources]
        assert (await s.execute(select(Resource.id))).first() is not None  # nothing dropped


async def test_hostile_queries_over_http_get_results_or_a_clear_400(tmp_path):
    from urllib.parse import quote

    import aiohttp

    from tests.conftest import seed_county, start_server
    from web.api.library import ensure_curriculum
    from web.keys import DB

    server, runner = await start_server(tmp_path)
    try:
        await seed_county(server.app[DB])
        await ensure_curriculum(server.app)
        async with aiohttp.ClientSession() as http:
            for text in [t for t in HOSTILE if len(t) < 100] + ["加法" * 250, "\x7f\x00"]:
                async with http.get(f"{server.url}/api/library/resources?q={quote(text)}") as r:
                    assert r.status == 200, text
                    assert "resources" in await r.json()
            async with http.get(f"{server.url}/api/library/resources?q={quote('加法' * 5000)}") as r:
                assert r.status == 400  # 10 KB of query string: refused by the HTTP parser, not a crash
            async with http.get(f"{server.url}/api/library/resources?q=x&limit=abc") as r:
                assert r.status == 400 and (await r.json())["error"]["field"] == "limit"
    finally:
        await runner.cleanup()
