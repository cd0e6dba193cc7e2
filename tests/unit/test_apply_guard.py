"""The over-indebtedness guard's rules (§6.6): monthly payments, debt-to-income, cooling off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from marketplace.applications.guard import (
    DebtToIncome,
    cooling_off_end,
    cooling_off_message,
    monthly_payment,
    new_loan_payment,
)
from marketplace.loancalc import quote

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def test_a_level_payment_is_its_instalment():
    plan = quote(Decimal(12000), 12, "equal_installment", Decimal("0.072"), "year")
    assert new_loan_payment(plan) == plan.schedule[0].payment


def test_declining_payments_count_their_first_and_highest():
    plan = quote(Decimal(12000), 12, "equal_principal", Decimal("0.072"), "year")
    assert new_loan_payment(plan) == plan.schedule[0].payment > plan.schedule[-1].payment


def test_a_balloon_is_spread_over_its_months():
    plan = quote(Decimal(12000), 12, "bullet", Decimal("0.072"), "year")
    # Nothing falls due before the end, yet the loan costs about 1,000 a month to repay.
    assert Decimal(1000) < new_loan_payment(plan) < Decimal(1100)
    assert monthly_payment([Decimal(60), Decimal(60), Decimal("12060")]) == Decimal("4060.00")
    assert monthly_payment([]) == Decimal("0.00")


def test_debt_to_income_warns_above_the_share():
    under = DebtToIncome(Decimal(3000), Decimal(1000), Decimal(10000), Decimal("0.5"))
    at = DebtToIncome(Decimal(4000), Decimal(1000), Decimal(10000), Decimal("0.5"))
    over = DebtToIncome(Decimal(4000), Decimal("1000.01"), Decimal(10000), Decimal("0.5"))
    assert not under.exceeded and not at.exceeded and over.exceeded
    assert over.total == Decimal("5000.01")
    text = over.warning()
    assert "5,000.01" in text and "4,000.00" in text and "1,000.01" in text and "50%" in text


def test_without_other_loans_the_warning_names_this_one_only():
    text = DebtToIncome(Decimal(6000), Decimal(0), Decimal(10000), Decimal("0.5")).warning()
    assert "6,000.00" in text and "60%" in text and "其他借款" not in text


def test_no_income_is_always_over():
    debt = DebtToIncome(Decimal(1), Decimal(0), Decimal(0), Decimal("0.5"))
    assert debt.ratio is None and debt.exceeded and "全部" in debt.warning()


def test_cooling_off_starts_at_the_nth_application_in_the_window():
    days = [timedelta(days=d) for d in (6, 5, 3, 1)]
    submitted = [NOW - d for d in days]
    assert cooling_off_end(submitted[1:], limit=4, days=7, now=NOW) is None
    end = cooling_off_end(submitted, limit=4, days=7, now=NOW)
    # It ends when the oldest of the four leaves the seven days.
    assert end == NOW - timedelta(days=6) + timedelta(days=7)


def test_applications_older_than_the_window_do_not_count():
    submitted = [NOW - timedelta(days=8), NOW - timedelta(days=2), NOW - timedelta(hours=1)]
    assert cooling_off_end(submitted, limit=3, days=7, now=NOW) is None


@given(
    st.lists(st.integers(min_value=0, max_value=20 * 24 * 60), max_size=15),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=1, max_value=10),
)
def test_the_pause_always_ends_in_the_future_and_within_the_window(minutes_ago, limit, days):
    submitted = [NOW - timedelta(minutes=m) for m in minutes_ago]
    end = cooling_off_end(submitted, limit=limit, days=days, now=NOW)
    in_window = [at for at in submitted if at > NOW - timedelta(days=days)]
    assert (end is None) == (len(in_window) < limit)
    if end is not None:
        assert NOW < end <= NOW + timedelta(days=days)
        # At the end, the borrower is below the limit again.
        assert cooling_off_end(submitted, limit=limit, days=days, now=end) is None


def test_the_refusal_names_the_end_in_china_time():
    end = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)
    text = cooling_off_message(end, limit=6, days=7)
    assert "2026-12-06 02:30" in text and "7天内" in text and "6次" in text
