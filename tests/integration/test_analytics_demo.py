"""The demo's analytics tell one story (issue 13): every demo application has its
visitor's steps (so "submitted" behaviour events are exactly the applications), the
generated browsing never submits, and the dashboard's funnel narrows at every step;
the channel and income-band breakdowns have a shape."""

from __future__ import annotations

from datetime import timedelta

from marketplace.analytics.period import Period, business_today
from marketplace.analytics.queries import dashboard
from marketplace.analytics.tables import FunnelDaily
from marketplace.applications.tables import Application
from marketplace.demo.seed import seed_demo
from tests import factories


async def test_the_demo_funnel_is_consistent_with_its_applications():
    await seed_demo()
    applications = await Application.count()
    assert applications >= 20
    rows = await FunnelDaily.raw(
        "SELECT sum(apply_submitted) AS submitted, sum(consents) AS consents"
        " FROM analytics_behaviour_daily"
    )
    assert rows[0]["submitted"] == rows[0]["consents"] == applications
    boss = await factories.user("operator", "boss@loanmart.example", "super_admin", None, "老板")
    today = business_today()
    for days in (7, 30, 90, 400):
        board = await dashboard(boss, Period(today - timedelta(days=days - 1), today))
        steps = [row[1] for row in board.figure("funnel").table.rows]
        assert steps == sorted(steps, reverse=True), (days, steps)
        assert steps[2] > 0, days  # applications in every window
    channels = await FunnelDaily.raw("SELECT DISTINCT channel FROM application ORDER BY channel")
    assert [row["channel"] for row in channels] == ["h5", "web"]
    bands = await FunnelDaily.raw("SELECT count(DISTINCT income) AS n FROM analytics_band_member")
    assert bands[0]["n"] >= 3
