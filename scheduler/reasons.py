"""Why demand stayed unplaced, in words a county coordinator understands.

For each demand short of lessons: first the structural causes (no paired hub, no teacher of the subject
or grade, bells that never line up, every such period shut by a fixed rule — teacher unavailable or a
classroom busy with its own lessons —, more lessons than days). Then every candidate place (a period its
bells and the fixed rules allow) is checked against the final timetable and *every* rule that blocks it is
counted. A rule that blocks all places leads ("…，全部18个可选节次都已占用"): that is the one to change. The
others follow, most frequent first, with their counts, then the places the fixed rules shut.
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
    if not opt.candidates and not opt.excluded:
        return [
            f"{school.name}的作息时间与{hubs}没有对得上的节次"
            f"（需重叠至少 {index.min_overlap} 分钟且不跨课间）"
        ]
    reasons: list[str] = []
    shut = Counter(rule for _c, rules in opt.excluded for rule in set(rules))
    if not opt.candidates:
        n = len(opt.excluded)
        for rule, k in sorted(shut.items(), key=lambda kv: (-kv[1], kv[0])):
            reasons.append(f"{rule}，全部{n}个作息对得上的节次都不可用" if k == n else f"{rule}（{n} 个作息对得上的节次中 {k} 个）")
        return reasons
    days = {c.weekday for c in opt.candidates}
    if d.per_week > len(days):
        reasons.append(
            f"每周需要 {d.per_week} 节{subject}，但只有 {len(days)} 天有可用的节次（每班每科每天最多一节）"
        )
    # every rule that blocks each place the lesson could still go, counted over all such places
    free = [c for c in opt.candidates if not board.has(c)]
    counts: Counter[str] = Counter()
    for c in free:
        counts.update(set(board.blockers(c)))
    total = len(free)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for rule, n in ranked:
        if n == total:   # blocks every place: this is the rule to change
            reasons.append(f"{rule}，全部{total}个可选节次都已占用")
    for rule, n in ranked:
        if n < total:
            reasons.append(f"{rule}（{total} 个可选节次中 {n} 个因此不可用）")
    for rule, n in sorted(shut.items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.append(f"另有 {n} 个节次不可选：{rule}")
    if not counts:
        reasons.append(f"还有 {total} 个可选节次未被任何规则挡住，求解时间内未用上，可延长求解时间后重试")
    return reasons
