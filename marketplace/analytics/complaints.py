"""The complaints column of the institution performance table: fed by the complaints
context once it exists (`register_complaint_counter`, like the monitoring hook); until
then None, shown as "—"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date

# (first day, last day) -> {institution id: complaints received in those days}
ComplaintCounter = Callable[[date, date], Awaitable[Mapping[int, int]]]
_counter: list[ComplaintCounter] = []


def register_complaint_counter(counter: ComplaintCounter | None) -> None:
    _counter.clear()
    if counter is not None:
        _counter.append(counter)


async def complaints_by_institution(start: date, end: date) -> Mapping[int, int] | None:
    if not _counter:
        return None
    return await _counter[0](start, end)
