from marketplace.complaints.stats import complaints_since
from marketplace.complaints.tables import (
    Complaint,
    ComplaintAttachment,
    ComplaintMessage,
    ComplaintStatsSnapshot,
)
from marketplace.contexts import Cron, declare_context
from marketplace.monitoring.figures import register_complaint_counter

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
        "audit",
    ),
    public=("services", "queries", "statuses"),
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
# Monitoring (A7) counts complaints per product and institution through this hook.
register_complaint_counter(complaints_since)
