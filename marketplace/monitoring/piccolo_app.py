from marketplace.contexts import Cron, declare_context
from marketplace.monitoring.tables import CaseEvent, MonitoringCase

CONTEXT = declare_context(
    "monitoring",
    __file__,
    [MonitoringCase, CaseEvent],
    depends_on=(
        "accounts",
        "institutions",
        "products",
        "applications",
        "offers",
        "loans",
        "inbox",
        "audit",
    ),
    jobs={"monitoring.evaluate": "marketplace.monitoring.jobs:evaluate"},
    crons=(
        Cron(
            "monitoring.evaluate_hourly",
            "marketplace.monitoring.jobs:evaluate_hourly",
            every_seconds=3600,
        ),
    ),
    public=("services", "queries", "statuses", "figures"),
)
APP_CONFIG = CONTEXT.app
