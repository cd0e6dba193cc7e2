from marketplace.complaints.tables import (
    Complaint,
    ComplaintAttachment,
    ComplaintMessage,
    ComplaintStatsSnapshot,
)
from marketplace.contexts import declare_context

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
)
APP_CONFIG = CONTEXT.app
