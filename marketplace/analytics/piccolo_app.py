from collections.abc import Mapping
from datetime import date

from marketplace.analytics.complaints import register_complaint_counter
from marketplace.analytics.tables import (
    BandDaily,
    BehaviourDaily,
    BehaviourEvent,
    BreakdownDaily,
    FilterDaily,
    FunnelDaily,
    FunnelInstitutionDaily,
    LoanDaily,
    LoanInstitutionDaily,
    QueryDaily,
    RefreshRun,
    RevenueDaily,
)
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "analytics",
    __file__,
    [
        BehaviourEvent,
        FunnelDaily,
        LoanDaily,
        RevenueDaily,
        BehaviourDaily,
        QueryDaily,
        FilterDaily,
        BandDaily,
        RefreshRun,
        FunnelInstitutionDaily,
        LoanInstitutionDaily,
        BreakdownDaily,
    ],
    depends_on=(
        "accounts",
        "institutions",
        "products",
        "consents",
        "applications",
        "loans",
        "settlement",
        "audit",
        "complaints",
    ),
    crons=(
        Cron("analytics.flush_events", "marketplace.analytics.jobs:flush_events", every_seconds=60),
        Cron(
            "analytics.refresh_recent",
            "marketplace.analytics.jobs:refresh_recent",
            every_seconds=600,
        ),
        Cron(
            "analytics.refresh_nightly",
            "marketplace.analytics.jobs:refresh_nightly",
            every_seconds=86400,
        ),
        Cron(
            "analytics.purge_events",
            "marketplace.analytics.jobs:purge_events",
            every_seconds=86400,
        ),
    ),
    public=("services", "queries", "recorder", "jobs", "formatting"),
)
APP_CONFIG = CONTEXT.app


async def _complaints_between(first: date, last: date) -> Mapping[int, int]:
    # Imported on first use: complaint statistics read parameters, whose module loads every
    # context's app (this one included) through the outbox.
    from marketplace.complaints.stats import complaints_between

    return await complaints_between(first, last)


# The institution table's complaints column (A12) counts from the complaints context.
register_complaint_counter(_complaints_between)
