from collections.abc import Mapping
from datetime import datetime

from marketplace.complaints.tables import (
    Complaint,
    ComplaintAttachment,
    ComplaintMessage,
    ComplaintStatsSnapshot,
)
from marketplace.contexts import Cron, declare_context
from marketplace.monitoring.figures import register_complaint_counter
from marketplace.monitoring.statuses import Subject

CONTEXT = declare_context(
    "complaints",
    __file__,
    [Complaint, ComplaintMessage, ComplaintAttachment, ComplaintStatsSnapshot],
    depends_on=(
        "accounts",
        "institutions",
        "applications",
        "loans",
        "collections",
        "inbox",
        "notifications",
        "audit",
    ),
    public=("services", "queries", "statuses", "stats"),
    crons=(
        Cron("complaints.run_sla", "marketplace.complaints.jobs:run_sla_now", every_seconds=600),
        Cron(
            "complaints.refresh_stats",
            "marketplace.complaints.stats_jobs:refresh_hourly",
            every_seconds=3600,
            run_at_startup=True,
        ),
    ),
)
APP_CONFIG = CONTEXT.app


async def _complaints_since(subject: Subject, since: datetime) -> Mapping[int, int]:
    # Imported on first use: stats reads parameters, whose module loads every context's
    # app (this one included) through the outbox.
    from marketplace.complaints.stats import complaints_since

    return await complaints_since(subject, since)


# Monitoring (A7) counts complaints per product and institution through this hook.
register_complaint_counter(_complaints_since)
