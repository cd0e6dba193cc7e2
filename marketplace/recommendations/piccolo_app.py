from marketplace.contexts import Cron, declare_context
from marketplace.recommendations.tables import OddsCalibration

CONTEXT = declare_context(
    "recommendations",
    __file__,
    [OddsCalibration],
    depends_on=("accounts", "products", "applications"),
    # Recomputed every six hours (and at start-up): applications are decided all day, and
    # one run reads the window's decisions in one query.
    crons=(
        Cron(
            "recommendations.calibrate",
            "marketplace.recommendations.jobs:calibrate",
            every_seconds=6 * 3600,
            run_at_startup=True,
        ),
    ),
    public=("services", "queries", "odds", "eligibility"),
)
APP_CONFIG = CONTEXT.app
