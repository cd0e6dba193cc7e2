"""The contact rules as system parameters: the permitted hours (Asia/Shanghai) and the
per-loan daily cap. A malformed stored value falls back to the default, never to "no
rule"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from marketplace.i18n import _
from marketplace.parameters.services import DEFAULTS, get_parameters

HOURS_START = "collection_hours_start"
HOURS_END = "collection_hours_end"
DAILY_CAP = "collection_daily_cap"


@dataclass(frozen=True)
class ContactRules:
    start: time
    end: time
    daily_cap: int

    def permits(self, local: time) -> bool:
        """Within [start, end): a contact at 21:00 sharp is already outside 08:00–21:00."""
        return self.start <= local < self.end

    @property
    def hours_label(self) -> str:
        return _(
            "{start}–{end}", start=self.start.strftime("%H:%M"), end=self.end.strftime("%H:%M")
        )


def _clock_time(value: object, default: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return time.fromisoformat(default)


def _cap(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return int(DEFAULTS[DAILY_CAP])


async def contact_rules() -> ContactRules:
    values = await get_parameters(HOURS_START, HOURS_END, DAILY_CAP)
    return ContactRules(
        start=_clock_time(values[HOURS_START], DEFAULTS[HOURS_START]),
        end=_clock_time(values[HOURS_END], DEFAULTS[HOURS_END]),
        daily_cap=_cap(values[DAILY_CAP]),
    )
