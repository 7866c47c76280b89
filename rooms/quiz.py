"""随堂测: the teacher pushes a question, each classroom enters its class's answer counts, everyone
on the hub side sees the tally per classroom and overall.

The database is the record (kept with the lesson); a tally is recomputed from it on every answer, which
for one lesson's few dozen classrooms is a single small query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from core.errors import SankeError
from rooms.lesson_records import QuizAnswerRecord, QuizRecord

TRUE_FALSE = ["对", "错"]
MAX_COUNT = 500  # students a classroom can report for one option


class QuizError(SankeError):
    """Refused: the code and field say why."""


@dataclass(slots=True)
class Tally:
    """A quiz with its answers: per classroom and the sum over all classrooms."""

    quiz: dict[str, Any]
    classrooms: list[dict[str, Any]] = field(default_factory=list)
    overall: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"quiz": self.quiz, "classrooms": self.classrooms, "overall": self.overall,
                "answered": len(self.classrooms), "students": sum(self.overall)}


def quiz_json(q: QuizRecord) -> dict[str, Any]:
    return {
        "id": q.id, "room_id": q.room_id, "kind": q.kind, "question": q.question, "options": list(q.options),
        "correct": q.correct, "pushed_at": q.pushed_at.isoformat(),
        "closed_at": q.closed_at.isoformat() if q.closed_at else None,
    }


def answer_counts(options: int, counts: list[int] | None, choice: int | None) -> list[int]:
    """Counts per option from either the class's counts or a single classroom answer."""
    if (counts is None) == (choice is None):
        raise QuizError("invalid_field", "give either counts or choice", "counts")
    if choice is not None:
        if not 0 <= choice < options:
            raise QuizError("invalid_field", f"choice must be 0..{options - 1}", "choice")
        return [1 if i == choice else 0 for i in range(options)]
    assert counts is not None
    if len(counts) != options:
        raise QuizError("invalid_field", f"counts needs one number per option ({options})", "counts")
    for i, n in enumerate(counts):
        if not 0 <= n <= MAX_COUNT:
            raise QuizError("invalid_field", f"a count is 0..{MAX_COUNT}", f"counts.{i}")
    return list(counts)


class QuizStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def push(self, room_id: str, kind: str, question: str, options: list[str], correct: int | None,
                   by: str) -> QuizRecord:
        """Close the room's open quiz (one at a time on the screens) and add the new one."""
        if kind == "truefalse":
            options = options or list(TRUE_FALSE)
            if len(options) != 2:
                raise QuizError("invalid_field", "a true/false question has two options", "options")
        elif len(options) < 2:
            raise QuizError("invalid_field", "a multiple-choice question needs 2 to 6 options", "options")
        if correct is not None and not 0 <= correct < len(options):
            raise QuizError("invalid_field", "correct must name one of the options", "correct")
        async with self.db.session() as s:
            await self._close_open(s, room_id)
            q = QuizRecord(room_id=room_id, kind=kind, question=question, options=options, correct=correct,
                           created_by=by)
            s.add(q)
            await s.commit()
            return q

    async def _close_open(self, s: AsyncSession, room_id: str) -> None:
        await s.execute(update(QuizRecord).where(QuizRecord.room_id == room_id, QuizRecord.closed_at.is_(None))
                        .values(closed_at=utcnow()))

    async def close(self, room_id: str, quiz_id: int) -> QuizRecord:
        async with self.db.session() as s:
            q = await s.get(QuizRecord, quiz_id)
            if q is None or q.room_id != room_id:
                raise QuizError("not_found", "no such quiz in this lesson", "quiz_id")
            if q.closed_at is None:
                q.closed_at = utcnow()
                await s.commit()
            return q

    async def open_quiz(self, room_id: str) -> QuizRecord | None:
        async with self.db.session() as s:
            rows = await s.execute(select(QuizRecord).where(QuizRecord.room_id == room_id,
                                                            QuizRecord.closed_at.is_(None)))
            return rows.scalars().first()

    async def answer(self, room_id: str, quiz_id: int, identity: str, label: str, classroom_id: int | None,
                     counts: list[int] | None, choice: int | None) -> Tally:
        async with self.db.session() as s:
            q = await s.get(QuizRecord, quiz_id)
            if q is None or q.room_id != room_id:
                raise QuizError("not_found", "no such quiz in this lesson", "quiz_id")
            if q.closed_at is not None:
                raise QuizError("quiz_closed", "the teacher has closed this question", "quiz_id")
            values = answer_counts(len(q.options), counts, choice)
            row = (await s.execute(select(QuizAnswerRecord).where(
                QuizAnswerRecord.quiz_id == quiz_id, QuizAnswerRecord.identity == identity))).scalar_one_or_none()
            if row is None:
                s.add(QuizAnswerRecord(quiz_id=quiz_id, identity=identity, label=label,
                                       classroom_id=classroom_id, counts=values))
            else:
                row.counts, row.answered_at, row.label = values, utcnow(), label
            await s.commit()
        return await self.tally(quiz_id)

    async def tally(self, quiz_id: int) -> Tally:
        async with self.db.session() as s:
            q = await s.get(QuizRecord, quiz_id)
            if q is None:
                raise QuizError("not_found", "no such quiz", "quiz_id")
            rows = (await s.execute(select(QuizAnswerRecord).where(QuizAnswerRecord.quiz_id == quiz_id)
                                    .order_by(QuizAnswerRecord.id))).scalars()
            return tally_of(q, list(rows))

    async def for_room(self, room_id: str) -> list[Tally]:
        async with self.db.session() as s:
            quizzes = list((await s.execute(select(QuizRecord).where(QuizRecord.room_id == room_id)
                                            .order_by(QuizRecord.id))).scalars())
            answers = list((await s.execute(select(QuizAnswerRecord).where(
                QuizAnswerRecord.quiz_id.in_([q.id for q in quizzes])).order_by(QuizAnswerRecord.id))).scalars())
        return [tally_of(q, [a for a in answers if a.quiz_id == q.id]) for q in quizzes]


def tally_of(q: QuizRecord, answers: list[QuizAnswerRecord]) -> Tally:
    overall = [0] * len(q.options)
    rows = []
    for a in answers:
        for i, n in enumerate(a.counts[: len(overall)]):
            overall[i] += n
        rows.append({"identity": a.identity, "label": a.label, "classroom_id": a.classroom_id,
                     "counts": list(a.counts), "answered_at": a.answered_at.isoformat()})
    return Tally(quiz_json(q), rows, overall)
