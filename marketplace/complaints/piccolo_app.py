from marketplace.complaints.tables import (
    Complaint,
    ComplaintAttachment,
    ComplaintMessage,
    ComplaintStatsSnapshot,
)
from marketplace.contexts import Cron, declare_context

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
    crons=(
        Cron("complaints.run_sla", "marketplace.complaints.jobs:run_sla_now", every_seconds=600),
    ),
    public=("services", "queries", "statuses"),
)
APP_CONFIG = CONTEXT.app
