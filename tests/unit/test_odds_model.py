"""The approval-odds model and its calibration (PRODUCT.md P4, §6.3): bands at their
cut-offs, the fallback from segment to product to platform by minimum counts, the "as of
then" rule, and the calibration of a fixed dataset against figures worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketplace.recommendations.calibration import calibrate, estimates_at_submission
from marketplace.recommendations.odds import (
    Band,
    Decision,
    Level,
    ModelSettings,
    Tally,
    counted,
    settings_from,
    tally_as_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SMALL = ModelSettings(
    window_days=30,
    segment_min=2,
    product_min=3,
    platform_min=4,
    high=Decimal("0.6"),
    medium=Decimal("0.3"),
    amount_cuts=(Decimal(10000),),
)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def decision(
    product: int, employment: str, amount: int, submitted: float, decided: float, ok: bool
) -> Decision:
    return Decision(product, employment, Decimal(amount), day(submitted), day(decided), ok)


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        (None, Band.UNKNOWN),
        (Decimal("1"), Band.HIGH),
        (Decimal("0.6"), Band.HIGH),  # the cut-off itself is the higher band
        (Decimal("0.5999"), Band.MEDIUM),
        (Decimal("0.3"), Band.MEDIUM),
        (Decimal("0.2999"), Band.LOW),
        (Decimal("0"), Band.LOW),
    ],
)
def test_bands_follow_the_cut_offs(rate, band):
    assert SMALL.band(rate) is band


def test_amount_bands_split_at_the_cut_offs():
    settings = ModelSettings(amount_cuts=(Decimal(10000), Decimal(50000)))
    assert [settings.amount_band(Decimal(a)) for a in (9999, 10000, 49999, 50000, 10**7)] == [
        0,
        1,
        1,
        2,
        2,
    ]
    assert settings.amount_band_label(Decimal(20000)) == "10,000–50,000 元"
    assert settings.amount_band_label(Decimal(500)) == "10,000 元以下"
    assert settings.amount_band_label(Decimal(80000)) == "50,000 元及以上"


def test_the_segment_is_used_once_it_has_its_minimum_count():
    tally = Tally(SMALL)
    tally.add(decision(1, "employee", 5000, 0, 1, True))
    estimate = tally.estimate(1, "employee", Decimal(6000))
    # One decision: below every minimum.
    assert (estimate.level, estimate.band, estimate.rate) == (Level.NONE, Band.UNKNOWN, None)
    tally.add(decision(1, "employee", 9000, 0, 1, False))
    estimate = tally.estimate(1, "employee", Decimal(6000))
    assert (estimate.level, estimate.decided, estimate.approved) == (Level.SEGMENT, 2, 1)
    assert estimate.rate == Decimal("0.5") and estimate.band is Band.MEDIUM


def test_falls_back_to_the_product_then_the_platform():
    tally = Tally(SMALL)
    # Product 1: three decisions, each in a different segment (2 approved).
    tally.add(decision(1, "employee", 5000, 0, 1, True))
    tally.add(decision(1, "freelancer", 5000, 0, 1, True))
    tally.add(decision(1, "employee", 20000, 0, 1, False))
    product = tally.estimate(1, "employee", Decimal(5000))
    assert (product.level, product.decided, product.approved) == (Level.PRODUCT, 3, 2)
    assert product.band is Band.HIGH  # 2/3
    # Product 2 has one decision: the platform's four (2 approved) answer.
    tally.add(decision(2, "employee", 5000, 0, 1, False))
    platform = tally.estimate(2, "employee", Decimal(5000))
    assert (platform.level, platform.decided, platform.approved) == (Level.PLATFORM, 4, 2)
    assert platform.band is Band.MEDIUM
    # Without an employment type (the general view) the segment is never used.
    segment_sized = Tally(SMALL)
    for _ in range(2):
        segment_sized.add(decision(3, "employee", 5000, 0, 1, True))
    assert segment_sized.estimate(3, "employee", Decimal(5000)).level is Level.SEGMENT
    assert segment_sized.estimate(3, None, Decimal(5000)).level is Level.NONE


def test_an_estimate_counts_only_decisions_known_then_within_the_window():
    at = day(40)
    assert counted(decision(1, "e", 1, 10, 39, True), at, SMALL)
    assert counted(
        decision(1, "e", 1, 10, 39.9, True), at, SMALL
    )  # submitted exactly 30 days before
    assert not counted(decision(1, "e", 1, 9.99, 11, True), at, SMALL)  # submitted too long ago
    assert not counted(decision(1, "e", 1, 20, 40, True), at, SMALL)  # decided at that moment
    assert not counted(decision(1, "e", 1, 20, 41, True), at, SMALL)  # decided later


def test_parameters_are_kept_within_bounds_whatever_an_operator_typed():
    hostile = settings_from(
        {
            "odds_window_days": -5,
            "odds_segment_min_decisions": "many",
            "odds_product_min_decisions": 0,
            "odds_platform_min_decisions": 10**12,
            "odds_band_high_percent": 150,
            "odds_band_medium_percent": 400,
            "odds_amount_bands": [50000, "x", -3, 10000, 10000, None],
        }
    )
    assert hostile.window_days == 1
    assert hostile.segment_min == 20 and hostile.product_min == 1
    assert hostile.platform_min == 10**6
    assert hostile.high == Decimal(1) and hostile.medium == Decimal(1)  # medium never above high
    assert hostile.amount_cuts == (Decimal(10000), Decimal(50000))
    assert settings_from({"odds_amount_bands": "10000"}).amount_cuts == ()


# A fixed history, worked out by hand (settings SMALL: window 30 days, minimum counts
# segment 2 / product 3 / platform 4, 高 ≥ 60%, 中 ≥ 30%, amount cut-off 10,000):
HISTORY = [
    # Before the calibration window: they inform the first estimates only.
    decision(1, "employee", 5000, 0, 1, True),  # h1
    decision(1, "employee", 5000, 0, 2, True),  # h2
    decision(1, "employee", 5000, 0, 2, False),  # h3
    decision(2, "freelancer", 20000, 1, 3, False),  # h4
    # t1 (day 10): segment P1/employee/<10k = h1–h3, 2 of 3 → 高 (0.6667); approved.
    decision(1, "employee", 6000, 10, 12, True),
    # t6 (day 10 + 1h): the same segment, t1 not yet decided → 高 (0.6667); rejected.
    decision(1, "employee", 5000, 10 + 1 / 24, 20, False),
    # t2 (day 11): no segment, product 2 has one decision; platform h1–h4, 2 of 4 → 中 (0.5);
    # rejected.
    decision(2, "employee", 20000, 11, 13, False),
    # t3 (day 40): h1–h4 left the window; t1, t6, t2 are 3 < 4 → no band; approved.
    decision(2, "freelancer", 20000, 40, 41, True),
    # t4 (day 50): only t3 → no band; rejected (decided on day 90).
    decision(1, "employee", 8000, 50, 90, False),
    # r1–r3 (day 55): only t3 known → no band; all rejected.
    decision(3, "employee", 3000, 55, 56, False),
    decision(3, "employee", 3000, 55, 56, False),
    decision(3, "employee", 3000, 55, 56, False),
    # t5 (day 60): segment P3/employee/<10k = r1–r3, 0 of 3 → 低 (0); approved.
    decision(3, "employee", 3000, 60, 61, True),
]


def test_calibration_of_a_fixed_dataset_matches_the_hand_computed_figures():
    rows, unbanded = calibrate(HISTORY, day(100), 90, SMALL)
    by_band = {row.band: row for row in rows}
    assert [row.band for row in rows] == [Band.HIGH, Band.MEDIUM, Band.LOW]
    high, medium, low = by_band[Band.HIGH], by_band[Band.MEDIUM], by_band[Band.LOW]
    assert (high.applications, high.approved) == (2, 1)
    assert high.predicted_rate == Decimal("0.6667") and high.actual_rate == Decimal("0.5000")
    assert (medium.applications, medium.approved) == (1, 0)
    assert medium.predicted_rate == Decimal("0.5000") and medium.actual_rate == Decimal("0")
    assert (low.applications, low.approved) == (1, 1)
    assert low.predicted_rate == Decimal("0") and low.actual_rate == Decimal("1")
    assert unbanded == 5  # t3, t4, r1–r3
    # Outside the 90 days (h1–h4 were submitted before day 10) nothing is counted.
    assert sum(row.applications for row in rows) + unbanded == len(HISTORY) - 4


def test_applications_not_yet_decided_by_then_are_left_out():
    rows, unbanded = calibrate(HISTORY, day(89), 90, SMALL)
    # t4 is decided on day 90: not yet; and the window starts on day -1, so h1–h4 count.
    assert sum(row.applications for row in rows) + unbanded == len(HISTORY) - 1


def test_a_band_without_applications_says_so_rather_than_zero():
    rows, unbanded = calibrate([], day(100), 90, SMALL)
    assert unbanded == 0
    assert all(
        row.applications == 0 and row.predicted_rate is None and row.actual_rate is None
        for row in rows
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_sweep_gives_each_application_the_estimate_of_its_own_moment(seed):
    """The O(n log n) sweep agrees with counting afresh for every application."""
    rng = random.Random(seed)
    history = []
    for _ in range(300):
        submitted = rng.uniform(0, 200)
        history.append(
            decision(
                rng.randint(1, 4),
                rng.choice(["employee", "freelancer", "business_owner"]),
                rng.choice([3000, 9999, 10000, 40000]),
                submitted,
                submitted + rng.choice([0.0001, rng.uniform(0, 45)]),
                rng.random() < 0.45,
            )
        )
    settings = ModelSettings(
        window_days=30, segment_min=3, product_min=6, platform_min=10, amount_cuts=(Decimal(10000),)
    )
    swept = estimates_at_submission(history, history, settings)
    for target, estimate in zip(history, swept, strict=True):
        fresh = tally_as_of(history, target.submitted_at, settings).estimate(
            target.product_id, target.employment_type, target.amount
        )
        assert estimate == fresh
