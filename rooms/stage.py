"""Raised hands and the stage: who asked to speak, in order, and who is seen and heard by every classroom."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import SankeError


class StageError(SankeError):
    """A stage move that the seats or the hand queue do not allow."""


@dataclass(slots=True)
class Stage:
    seats: int = 6
    hands: dict[str, float] = field(default_factory=dict)  # participant → raised at (ordered)
    on_stage: list[str] = field(default_factory=list)

    def raise_hand(self, pid: str, at: float) -> bool:
        if pid in self.hands or pid in self.on_stage:
            return False
        self.hands[pid] = at
        return True

    def lower_hand(self, pid: str) -> bool:
        return self.hands.pop(pid, None) is not None

    def invite(self, pid: str) -> None:
        if pid in self.on_stage:
            raise StageError("already_on_stage", "participant is already on stage")
        if len(self.on_stage) >= self.seats:
            raise StageError("stage_full", f"all {self.seats} stage seats are taken")
        self.hands.pop(pid, None)
        self.on_stage.append(pid)

    def leave(self, pid: str) -> bool:
        if pid in self.on_stage:
            self.on_stage.remove(pid)
            return True
        return False

    def forget(self, pid: str) -> bool:
        """The participant is gone for good: no hand, no seat."""
        changed = self.lower_hand(pid)
        return self.leave(pid) or changed

    def queue(self) -> list[str]:
        return sorted(self.hands, key=self.hands.__getitem__)
