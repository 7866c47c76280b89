"""A room's participants by id, with the few a broadcast viewer sees and the hidden count kept up to date
as it changes: the snapshot sent with each of a thousand viewers' joins costs O(staff), not O(room).

It is a dict (every reader and writer of `room.participants` stays as it was); each way of changing it
keeps the index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar


class Member(Protocol):
    @property
    def hidden(self) -> bool: ...


P = TypeVar("P", bound=Member)


class Roster(dict[str, P], Generic[P]):
    def __init__(self, is_staff: Callable[[P], bool], items: Mapping[str, P] | Iterable[tuple[str, P]] = ()) -> None:
        super().__init__()
        self._is_staff = is_staff
        self.staff: dict[str, P] = {}  # in join order
        self.hidden = 0
        self.update(items)

    def _add(self, pid: str, p: P) -> None:
        if self._is_staff(p):
            self.staff[pid] = p
        self.hidden += p.hidden

    def _remove(self, pid: str) -> None:
        p = dict.get(self, pid)
        if p is not None:
            self.staff.pop(pid, None)
            self.hidden -= p.hidden

    def __setitem__(self, pid: str, p: P) -> None:
        self._remove(pid)
        super().__setitem__(pid, p)
        self._add(pid, p)

    def __delitem__(self, pid: str) -> None:
        self._remove(pid)
        super().__delitem__(pid)

    def pop(self, pid: str, *default: Any) -> Any:
        self._remove(pid)
        return super().pop(pid, *default)

    def popitem(self) -> tuple[str, P]:
        pid, p = super().popitem()
        self.staff.pop(pid, None)
        self.hidden -= p.hidden
        return pid, p

    def clear(self) -> None:
        super().clear()
        self.staff.clear()
        self.hidden = 0

    def setdefault(self, pid: str, default: P) -> P:
        if pid not in self:
            self[pid] = default
        return self[pid]

    def update(self, *args: Any, **kwargs: P) -> None:
        for pid, p in dict(*args, **kwargs).items():
            self[pid] = p

    def __ior__(self, other: Any) -> Roster[P]:  # type: ignore[override,misc]
        self.update(other)
        return self
