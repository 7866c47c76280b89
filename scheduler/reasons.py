"""Why demand stayed unplaced, in words a county coordinator understands.

For each demand short of lessons: first the structural causes (no paired hub, no teacher of the subject
or grade, bells that never line up, more lessons than days); otherwise every place the lesson could have
gone is checked against the final timetable and the rules that block them are listed, most frequent first.
"""

from __future__ import annotations

from collections import Counter

from scheduler.board import Board
from scheduler.candidates import CountyIndex, DemandOptions
from scheduler.county import subject_label
from scheduler.timetable import Unplaced


def explain_unplaced(index: CountyIndex, board: Board) -> list[Unplaced]:
    out: list[Unplaced] = []
    for opt in index.options:
        d = opt.demand
        missing = d.per_week - board.placed[(d.classroom, d.subject)]
        if missing > 0:
            out.append(Unplaced(d.classroom, d.subject, missing, tuple(_reasons(index, board, opt))))
    return out


def _reasons(index: CountyIndex, board: Board, opt: DemandOptions) -> list[str]:
    d = opt.demand
    room = index.classrooms[d.classroom]
    school = index.schools[room.school]
    subject = subject_label(d.subject)
    if not opt.paired_hubs:
        return [f"{school.name}还没有配对的主讲学校"]
    hubs = "、".join(index.schools[h].name for h in opt.paired_hubs)
    if not opt.subject_teachers:
        return [f"配对的主讲学校（{hubs}）没有{subject}教师"]
    if not opt.grade_teachers:
        return [f"配对的主讲学校（{hubs}）没有教{room.grade}年级{subject}的教师"]
    if not opt.candidates:
        if opt.unavailable_slots:
            return [f"能教{room.grade}年级{subject}的教师在与{school.name}作息对得上的节次都不能排课"]
        return [
            f"{school.name}的作息时间与{hubs}没有对得上的节次"
            f"（需重叠至少 {index.min_overlap} 分钟且不跨课间）"
        ]
    days = {c.weekday for c in opt.candidates}
    reasons: list[str] = []
    if d.per_week > len(days):
        reasons.append(
            f"每周需要 {d.per_week} 节{subject}，但只有 {len(days)} 天有对得上的节次（每班每科每天最多一节）"
        )
    free = [c for c in opt.candidates if not board.has(c)]
    counts = Counter(b for c in free if (b := board.blocker(c)) is not None)
    total = len(free)
    for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.append(f"{reason}（{total} 个可选节次中 {n} 个因此不可用）")
    if not reasons:
        reasons.append("求解时间内未找到可行位置，可延长求解时间后重试")
    return reasons
