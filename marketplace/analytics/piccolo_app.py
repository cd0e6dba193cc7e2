from marketplace.analytics.tables import (
    BandDaily,
    BandMember,
    BandReturn,
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
        BandMember,
        RefreshRun,
        FunnelInstitutionDaily,
        LoanInstitutionDaily,
        BreakdownDaily,
        BandDaily,
        BandReturn,
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
