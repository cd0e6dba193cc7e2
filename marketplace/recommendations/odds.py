"""The approval-odds model (PRODUCT.md P4, §6.3): transparent, and the same one the
calibration page checks.

A product the borrower is eligible for gets the platform's own approval rate of the
narrowest group of past applications that is large enough:

1. the segment — same product, same employment type, same band of amount asked for;
2. else the product — every application to it;
3. else the platform — every application to any product.

"Past applications" are those submitted within the last `odds_window_days` days whose
institution had decided them (approved or rejected) before the moment of the estimate; a
level is used only when it holds at least its minimum count of decisions. The rate maps
to a band by two cut-offs: 高 at or above the high one, 中 at or above the medium one,
else 低; with too few decisions anywhere there is no band ("数据不足").

Income is not a segment: it is kept only encrypted, so past applications could not be
grouped by it without decrypting every one; it counts through eligibility (a product's
minimum income) instead. Employment type is read from the clear column of the
borrower's profile.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from marketplace.i18n import N_, _

MODEL_PARAMETERS = (
    "odds_window_days",
    "odds_segment_min_decisions",
    "odds_product_min_decisions",
    "odds_platform_min_decisions",
    "odds_band_high_percent",
    "odds_band_medium_percent",
    "odds_amount_bands",
)
# Bounds that keep an operator's typo from breaking the model: a window of 1 day to 10
# years, counts of at least one, percentages 0–100, at most 10 amount cut-offs.
MAX_WINDOW_DAYS = 3650
MAX_AMOUNT_CUTS = 10
HUNDRED = Decimal(100)


class Band(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"


BAND_LABELS: dict[Band, str] = {
    Band.HIGH: N_("高"),
    Band.MEDIUM: N_("中"),
    Band.LOW: N_("低"),
    Band.UNKNOWN: N_("数据不足"),
}


def band_names() -> dict[str, str]:
    """{band code: its name}, translated now."""
    return {str(band): _(label) for band, label in BAND_LABELS.items()}


# The bands the calibration page reports on, in the order shown.
RATED_BANDS = (Band.HIGH, Band.MEDIUM, Band.LOW)


class Level(StrEnum):
    SEGMENT = "segment"
    PRODUCT = "product"
    PLATFORM = "platform"
    NONE = "none"


@dataclass(frozen=True)
class ModelSettings:
    window_days: int = 180
    segment_min: int = 20
    product_min: int = 20
    platform_min: int = 20
    high: Decimal = Decimal("0.6")  # a fraction
    medium: Decimal = Decimal("0.3")
    amount_cuts: tuple[Decimal, ...] = (Decimal(10000), Decimal(50000))

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    def amount_band(self, amount: Decimal) -> int:
        """0 below the first cut-off, 1 from it to below the second, …"""
        return bisect.bisect_right(self.amount_cuts, amount)

    def amount_band_label(self, amount: Decimal) -> str:
        band = self.amount_band(amount)
        cuts = [f"{cut:,.0f}" for cut in self.amount_cuts]
        if not cuts:
            return _("不限金额")
        if band == 0:
            return _("{high} 元以下", high=cuts[0])
        if band == len(cuts):
            return _("{low} 元及以上", low=cuts[-1])
        return _("{low}–{high} 元", low=cuts[band - 1], high=cuts[band])

    def band(self, rate: Decimal | None) -> Band:
        if rate is None:
            return Band.UNKNOWN
        if rate >= self.high:
            return Band.HIGH
        if rate >= self.medium:
            return Band.MEDIUM
        return Band.LOW


def _whole(value: Any, default: int, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, minimum), maximum)


def settings_from(values: Mapping[str, Any]) -> ModelSettings:
    """The model's settings from the system parameters, each kept within sane bounds (the
    parameter page checks only their type)."""
    defaults = ModelSettings()
    high = _whole(values.get("odds_band_high_percent"), 60, 0, 100)
    medium = min(_whole(values.get("odds_band_medium_percent"), 30, 0, 100), high)
    raw_cuts = values.get("odds_amount_bands")
    cuts: list[Decimal] = []
    for item in raw_cuts if isinstance(raw_cuts, list) else []:
        number = _whole(item, -1, -1, 10**9)
        if number > 0:
            cuts.append(Decimal(number))
    return ModelSettings(
        window_days=_whole(
            values.get("odds_window_days"), defaults.window_days, 1, MAX_WINDOW_DAYS
        ),
        segment_min=_whole(values.get("odds_segment_min_decisions"), 20, 1, 10**6),
        product_min=_whole(values.get("odds_product_min_decisions"), 20, 1, 10**6),
        platform_min=_whole(values.get("odds_platform_min_decisions"), 20, 1, 10**6),
        high=Decimal(high) / HUNDRED,
        medium=Decimal(medium) / HUNDRED,
        amount_cuts=tuple(sorted(set(cuts)))[:MAX_AMOUNT_CUTS],
    )


@dataclass(frozen=True)
class Decision:
    """A past application the institution decided, as the model sees it (no identity)."""

    product_id: int
    employment_type: str
    amount: Decimal
    submitted_at: datetime
    decided_at: datetime
    approved: bool


@dataclass(frozen=True)
class Estimate:
    band: Band
    level: Level
    rate: Decimal | None  # approved / decided at `level`
    decided: int
    approved: int

    @property
    def band_label(self) -> str:
        return _(BAND_LABELS[self.band])

    @property
    def percent(self) -> str:
        return "" if self.rate is None else f"{(self.rate * HUNDRED):.0f}%"

    def explain(self, settings: ModelSettings, amount_band: str) -> str:
        """Where the rate comes from, in one sentence for the borrower."""
        days = settings.window_days
        if self.level is Level.NONE:
            return _(
                "近{days}天平台上已有结果的申请不足{n}笔，暂不估计获批可能性",
                days=days,
                n=settings.platform_min,
            )
        groups = {
            Level.SEGMENT: _(
                "该产品、与您职业类型相同、借款金额在{amount}的申请", amount=amount_band
            ),
            Level.PRODUCT: _("该产品的全部申请"),
            Level.PLATFORM: _("平台所有产品的申请"),
        }
        return _(
            "近{days}天{group}中，机构已作出决定 {decided} 笔，批复 {approved} 笔，批复率 {rate}",
            days=days,
            group=groups[self.level],
            decided=self.decided,
            approved=self.approved,
            rate=self.percent,
        )


SegmentKey = tuple[int, str, int]


class Tally:
    """Decided and approved counts at each level, for the decisions currently counted."""

    def __init__(self, settings: ModelSettings) -> None:
        self.settings = settings
        self.decided: Counter[Any] = Counter()
        self.approved: Counter[Any] = Counter()

    @staticmethod
    def _keys(product_id: int, employment_type: str, amount_band: int) -> tuple[Any, ...]:
        segment: SegmentKey = (product_id, employment_type, amount_band)
        return (("segment", segment), ("product", product_id), ("platform",))

    def add(self, decision: Decision, sign: int = 1) -> None:
        band = self.settings.amount_band(decision.amount)
        approved = sign if decision.approved else 0
        self.add_group(decision.product_id, decision.employment_type, band, sign, approved)

    def add_group(
        self, product_id: int, employment_type: str, amount_band: int, decided: int, approved: int
    ) -> None:
        """Counts of one segment at once (the live page's grouped query)."""
        for key in self._keys(product_id, employment_type, amount_band):
            self.decided[key] += decided
            self.approved[key] += approved

    def estimate(self, product_id: int, employment_type: str | None, amount: Decimal) -> Estimate:
        """The narrowest level with enough decisions; without an employment type (the
        non-personalised view) the segment level is skipped."""
        levels: list[tuple[Level, Any, int]] = []
        if employment_type:
            segment = (product_id, employment_type, self.settings.amount_band(amount))
            levels.append((Level.SEGMENT, ("segment", segment), self.settings.segment_min))
        levels.append((Level.PRODUCT, ("product", product_id), self.settings.product_min))
        levels.append((Level.PLATFORM, ("platform",), self.settings.platform_min))
        for level, key, minimum in levels:
            decided = self.decided[key]
            if decided >= minimum:
                approved = self.approved[key]
                rate = Decimal(approved) / Decimal(decided)
                return Estimate(self.settings.band(rate), level, rate, decided, approved)
        return Estimate(Band.UNKNOWN, Level.NONE, None, 0, 0)


def counted(decision: Decision, at: datetime, settings: ModelSettings) -> bool:
    """Whether a decision informs an estimate made at `at`: submitted within the window
    before it, and already decided by then."""
    return decision.decided_at < at and decision.submitted_at + settings.window >= at


def tally_as_of(decisions: Iterable[Decision], at: datetime, settings: ModelSettings) -> Tally:
    tally = Tally(settings)
    for decision in decisions:
        if counted(decision, at, settings):
            tally.add(decision)
    return tally
