"""The published complaint statistics' rules on hand-computed figures: the rate per 10,000
applications and its sample rule, the on-time share, the satisfaction mean, the rounding and
the 90-day window's Asia/Shanghai boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.complaints.stats import (
    RateState,
    Tally,
    mean,
    per_10k,
    publish,
    rate_state,
    share,
    window_ending,
)


@pytest.mark.parametrize(
    ("complaints", "applications", "minimum", "expected"),
    [
        (3, 1200, 100, Decimal("25.00")),  # 3 / 1200 × 10000 = 25
        (1, 300, 100, Decimal("33.33")),  # 33.333… rounds down
        (2, 300, 100, Decimal("66.67")),  # 66.666… rounds up
        (1, 80000, 100, Decimal("0.13")),  # 0.125 rounds half-up
        (0, 500, 100, Decimal("0.00")),  # no complaints is a rate of zero, not no rate
        (7, 100, 100, Decimal("700.00")),  # exactly the minimum publishes
        (7, 99, 100, None),  # one short of the minimum: 样本不足
        (0, 0, 100, None),  # no applications: no rate
        (5, 0, 1, None),  # complaints without applications in the window: still no rate
    ],
)
def test_rate_per_10k_with_the_sample_rule(complaints, applications, minimum, expected):
    assert per_10k(complaints, applications, minimum) == expected


def test_why_a_rate_is_missing():
    assert rate_state(0, 100) is RateState.NO_APPLICATIONS
    assert rate_state(99, 100) is RateState.TOO_FEW
    assert rate_state(100, 100) is RateState.RATE


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (2, 3, Decimal("0.6667")),
        (1, 3, Decimal("0.3333")),
        (4, 4, Decimal("1.0000")),
        (0, 5, Decimal("0.0000")),
        (0, 0, None),
    ],
)
def test_on_time_share_of_the_resolved(part, whole, expected):
    assert share(part, whole) == expected


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [(14, 3, Decimal("4.67")), (9, 2, Decimal("4.50")), (5, 1, Decimal("5.00")), (0, 0, None)],
)
def test_satisfaction_is_the_mean_rating(total, count, expected):
    assert mean(total, count) == expected


def test_publish_puts_the_figures_together():
    tally = Tally(
        institution_id=7,
        applications=400,
        complaints=6,
        resolved=4,
        resolved_within_sla=3,
        median_hours=Decimal("30.5"),
        ratings=3,
        rating_total=11,
    )
    shown = publish(tally, min_applications=100)
    assert shown.per_10k == Decimal("150.00")
    assert shown.within_sla_share == Decimal("0.7500")
    assert shown.median_hours_to_resolve == Decimal("30.50")
    assert shown.satisfaction_avg == Decimal("3.67")
    assert (shown.complaints, shown.applications, shown.resolved, shown.ratings) == (6, 400, 4, 3)
    small = publish(tally, min_applications=401)
    assert small.per_10k is None and small.within_sla_share == Decimal("0.7500")


def test_the_window_is_calendar_days_in_shanghai():
    # 2026-12-01 17:00 UTC is already 2026-12-02 01:00 in Shanghai.
    window = window_ending(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), 90)
    assert window.end == date(2026, 12, 2)
    assert window.start == date(2026, 9, 4)
    assert window.days == 90
    assert window.since == datetime(2026, 9, 3, 16, 0, tzinfo=UTC)
    assert window_ending(datetime(2026, 12, 1, 15, 59, tzinfo=UTC), 90).end == date(2026, 12, 1)
    assert window_ending(datetime(2026, 12, 1, tzinfo=UTC), 0).days == 1


@given(
    complaints=st.integers(min_value=0, max_value=10**6),
    applications=st.integers(min_value=1, max_value=10**7),
)
def test_more_complaints_never_lower_the_rate(complaints, applications):
    low = per_10k(complaints, applications, 1)
    high = per_10k(complaints + 1, applications, 1)
    assert low is not None and high is not None and high >= low
    assert low == low.quantize(Decimal("0.01"))
