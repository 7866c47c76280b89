"""`sanke bench search`: ranked search against the substring search it replaced, on SQLite and PostgreSQL.

A seeded county library of N generated lessons over the shipped curriculum (titles written the ways
teachers write them, some lessons not yet filed, descriptions that mention other topics, every review
state and scope), and the hand-written labelled queries of `data/bench/search-queries.json`. Each
query's truth is the chapter or section the generated lesson is about (gain 2; 1 for another section of
the target chapter), whatever its title says or whether it was filed. Prints nDCG@10, recall@10 (found
among the first 10 / min(10, relevant)) and the query latency of the whole `search` call with facets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.directory import School, User
from recorder import catalogue, knowledge
from recorder.access import can_view
from recorder.models import KnowledgePoint, Resource, ResourceKnowledge, TextbookNode
from recorder.resources import index_fields
from recorder.review import Actor
from recorder.search import Query, Result, search, substring_search

QUERIES = Path(__file__).resolve().parent / "data" / "bench" / "search-queries.json"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
TODAY = date(2026, 12, 3)


@dataclass(slots=True)
class Truth:
    lineage: tuple[str, ...]  # grade, subject, volume, chapter, section
    resource: Resource


def _gain(truth: tuple[str, ...], target: list[str]) -> int:
    if len(target) == 4:
        return 2 if list(truth[:4]) == target else 0
    if list(truth[:5]) == target:
        return 2
    return 1 if list(truth[:4]) == target[:4] else 0


async def _sections(db: Database) -> list[tuple[TextbookNode, list[TextbookNode], list[int]]]:
    """Every section with its lineage and the knowledge points it (or its chapter) teaches."""
    async with db.session() as s:
        points = dict((await s.execute(select(KnowledgePoint.identifier, KnowledgePoint.id))).all())
        nodes = {n.id: n for n in (await s.execute(select(TextbookNode))).scalars()}
    out = []
    for n in nodes.values():
        if n.level != "section":
            continue
        line = [nodes[int(i)] for i in n.path.strip("/").split("/")]
        idents = json.loads(n.knowledge or "[]") or json.loads(line[-2].knowledge or "[]")
        out.append((n, line, [points[i] for i in idents if i in points]))
    out.sort(key=lambda x: x[0].id)
    return out


async def generate(db: Database, count: int, seed: int = 7) -> tuple[list[Truth], Actor]:
    """Seed schools, teachers and `count` lessons; returns their truth and the teacher who searches."""
    rng = random.Random(seed)
    async with db.session() as s:
        if not (await s.execute(select(TextbookNode.id).limit(1))).first():
            await catalogue.import_sample_textbooks(s)
            await knowledge.import_samples(s)
        schools = [School(name=f"第{i + 1}{'中学' if i % 2 else '小学'}", kind="hub") for i in range(10)]
        s.add_all(schools)
        await s.flush()
        teachers = [
            User(username=f"bench-t{i}", display_name=f"{SURNAMES[i]}老师", password_hash="x", role="teacher",
                 school_id=schools[i % 10].id)
            for i in range(30)
        ]  # fmt: skip
        s.add_all(teachers)
        await s.flush()
        point_names = dict((await s.execute(select(KnowledgePoint.id, KnowledgePoint.name))).all())
        await s.commit()
    sections = await _sections(db)
    school_names = {sc.id: sc.name for sc in schools}
    truths: list[Truth] = []
    rows, tags = [], []
    for i in range(count):
        node, line, kps = rng.choice(sections)
        names = {n.level: n.name for n in line}
        teacher = rng.choice(teachers)
        day = TODAY - timedelta(days=rng.randrange(700))
        grade = int(next(g for g, nm in catalogue.GRADE_NAMES.items() if nm == names["grade"]))
        chapter, section = names["chapter"], names["section"]
        topic = section if names["subject"] == "数学" else f"{chapter} {section}"
        short = section.split(" ", 1)[-1] if names["subject"] == "数学" else f"{chapter.split(' ', 2)[-1]} {section}"
        style = rng.random()
        if style < 0.35:
            title = f"{names['grade']}{names['subject']} {topic} · {teacher.display_name} · {day.isoformat()}"
        elif style < 0.6:
            title = f"{short} 第{rng.randint(1, 3)}课时"
        elif style < 0.85 and kps:
            title = f"{point_names[rng.choice(kps)]}（{'一二三'[rng.randrange(3)]}）"
        else:
            title = rng.choice(["公开课", "同步课堂", "复习课", "示范课", f"专递课堂 第{rng.randint(1, 18)}周"])
            title = f"{names['subject']}{title}"
        filed = rng.random() < 0.85
        status = rng.choices(["published", "approved", "submitted", "draft"], [60, 10, 10, 20])[0]
        r = Resource(
            id=i + 1, title=title, school_id=teacher.school_id, school_name=school_names[teacher.school_id],
            teacher_user_id=teacher.id, teacher_name=teacher.display_name, stage=names["stage"], grade=grade,
            subject=names["subject"], lesson_date=day, classrooms="[]", status=status,
            scope=rng.choices(["county", "public", "school"], [50, 20, 30])[0],
            textbook_node_id=node.id if filed else None,
            review_score=round(rng.uniform(3, 5), 1) if status == "published" else 0.0,
            description=f"复习了{point_names[rng.choice(list(point_names))]}。" if rng.random() < 0.4 else "",
            room_id="", room_kind="delivery", timetable_ref="", duration=2400.0,
        )  # fmt: skip
        index_fields(r, [n.name for n in line] if filed else [], [point_names[k] for k in kps] if filed else [])
        rows.append({c.name: getattr(r, c.key) for c in Resource.__table__.c if getattr(r, c.key) is not None})
        if filed:
            tags += [{"resource_id": r.id, "knowledge_point_id": k} for k in dict.fromkeys(kps)]
        truths.append(Truth((names["grade"], names["subject"], names["volume"], names["chapter"], names["section"]), r))
    now = datetime.now(UTC)
    for row in rows:
        row.update(created_at=now, updated_at=now)
    async with db.session() as s:
        for i in range(0, len(rows), 1000):
            await s.execute(insert(Resource), rows[i : i + 1000])
        for i in range(0, len(tags), 2000):
            await s.execute(insert(ResourceKnowledge), tags[i : i + 2000])
        await s.commit()
    await _maintain(db)
    t0 = teachers[0]
    return truths, Actor(t0.id, t0.username, "teacher", t0.school_id)


async def _maintain(db: Database) -> None:
    """What a running database does to a bulk load on its own, done at once: PostgreSQL's autovacuum (off on
    some servers, and a minute late on the others) analyses the tables and merges the GIN index's pending
    list; without it the planner has no statistics and every full-text scan also reads the unmerged list.
    SQLite gets its statistics too."""
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if db.engine.dialect.name == "postgresql":
            await auto.execute(text("VACUUM ANALYZE lib_resources, lib_resource_knowledge"))
        else:
            await auto.execute(text("ANALYZE"))


async def _server_pid(s: AsyncSession) -> int | None:
    """The PostgreSQL backend serving this session, when it runs on this machine (its CPU is read from /proc)."""
    if s.get_bind().dialect.name != "postgresql":
        return None
    pid = int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    return pid if Path(f"/proc/{pid}/schedstat").exists() else None


def _server_cpu_ms(pid: int | None) -> float:
    """CPU time the backend has run, in ms (schedstat's first field is nanoseconds on the CPU)."""
    if pid is None:
        return 0.0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def ndcg_recall(found: list[int], gains: dict[int, int], k: int = 10) -> tuple[float, float]:
    dcg = sum((2 ** gains.get(rid, 0) - 1) / math.log2(i + 2) for i, rid in enumerate(found[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    relevant = {rid for rid, g in gains.items() if g >= 2}
    recall = len(relevant & set(found[:k])) / min(k, len(relevant)) if relevant else 1.0
    return (dcg / idcg if idcg else 1.0), recall


async def run_db(url: str, count: int, repeat: int, verbose: bool = False) -> dict[str, dict[str, float]]:
    db = Database(url)
    try:
        await db.migrate()
        truths, actor = await generate(db, count)
        labelled = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
        out: dict[str, dict[str, float]] = {}
        for name, fn in (("ranked", search), ("substring", substring_search)):
            ndcgs, recalls, times, cpu, server = [], [], [], [], []
            for item in labelled:
                gains = {
                    t.resource.id: g
                    for t in truths
                    if (g := _gain(t.lineage, item["target"])) and can_view(actor, t.resource)
                }
                result: Result | None = None
                for _ in range(repeat):
                    async with db.session() as s:  # the pool's one connection: the timed session gets it too
                        pid = await _server_pid(s)
                    async with db.session() as s:
                        t, c, b = time.perf_counter(), time.process_time(), _server_cpu_ms(pid)
                        result = await fn(s, Query(text=item["q"], limit=10), actor)
                        times.append((time.perf_counter() - t) * 1000)
                        cpu.append((time.process_time() - c) * 1000)  # this process, both threads
                        spent = _server_cpu_ms(pid) - b
                        if pid == await _server_pid(s):
                            server.append(spent)
                assert result is not None
                n, r = ndcg_recall([x.id for x in result.resources], gains)
                ndcgs.append(n)
                recalls.append(r)
                if verbose:
                    print(f"  {name:<10} {n:.2f} {r:.2f} {result.total:>6} {item['q']}")
            times.sort()
            cpu.sort()
            server.sort()
            out[name] = {
                "cpu_p95_ms": cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))],
                "server_p95_ms": server[min(len(server) - 1, int(len(server) * 0.95))] if server else 0.0,
                "ndcg10": statistics.mean(ndcgs), "recall10": statistics.mean(recalls),
                "p50_ms": times[len(times) // 2], "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
                "queries": len(labelled),
            }  # fmt: skip
        return out
    finally:
        await db.close()


async def _pg_database() -> tuple[str, str]:
    import asyncpg

    admin = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    name = f"sanke_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin, f"{admin.rsplit('/', 1)[0]}/{name}"


async def _pg_drop(admin: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def bench(count: int, repeat: int, databases: list[str], verbose: bool = False) -> int:
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in databases:
            results["sqlite"] = await run_db(f"sqlite+aiosqlite:///{tmp}/bench.db", count, repeat, verbose)
    if "postgresql" in databases:
        try:
            admin, url = await _pg_database()
        except OSError as e:
            print(f"postgresql: not reachable ({e}); skipped")
        else:
            try:
                results["postgresql"] = await run_db(url, count, repeat, verbose)
            finally:
                await _pg_drop(admin, url)
    print(f"{'database':<11} {'search':<10} {'nDCG@10':>8} {'recall@10':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'cpu p95':>8} {'db cpu p95':>10} {'vs sqlite':>9}")  # fmt: skip
    for dbname, by in results.items():
        for method, m in by.items():
            base = results.get("sqlite", {}).get(method, m)["p95_ms"]
            print(f"{dbname:<11} {method:<10} {m['ndcg10']:>8.3f} {m['recall10']:>9.3f} "
                  f"{m['p50_ms']:>8.1f} {m['p95_ms']:>8.1f} {m['cpu_p95_ms']:>8.1f} {m['server_p95_ms']:>10.1f} "
                  f"{m['p95_ms'] / max(base, 1e-9):>8.2f}x")  # fmt: skip
    first = next(iter(results.values()))
    queries = int(first["ranked"]["queries"])
    p95 = max(by["ranked"]["p95_ms"] for by in results.values())
    ratio = first["ranked"]["ndcg10"] / max(first["substring"]["ndcg10"], 1e-9)
    load = os.getloadavg()[0]
    print(f"queries={queries} databases={','.join(results)} ndcg_ratio={ratio:.2f} (target ≥ 1.5) "
          f"p95 target ≤ 50 ms; load average {load:.1f} on {os.cpu_count()} CPUs "
          f"(cpu p95: this process's CPU per query (SQLite's engine runs in it); db cpu p95: the PostgreSQL "
          f"backend's CPU per query, read from /proc; together what wall time is on an idle machine; vs sqlite: "
          f"p95 against SQLite's in this run)")  # fmt: skip
    print(
        f"search-bench: ndcg10={first['ranked']['ndcg10']:.3f} "
        f"baseline_ndcg10={first['substring']['ndcg10']:.3f} p95_ms={p95:.1f} resources={count}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sanke bench search", description=__doc__)
    p.add_argument("--resources", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each query")
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--verbose", action="store_true", help="print each query's figures")
    args = p.parse_args(argv)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    return asyncio.run(bench(args.resources, args.repeat, dbs, args.verbose))
