from marketplace.contexts import Cron, declare_context
from marketplace.erasure.tables import DeletionRequest

CONTEXT = declare_context(
    "erasure",
    __file__,
    [DeletionRequest],
    depends_on=("accounts", "loans"),
    crons=(
        Cron(
            "erasure.process_due",
            "marketplace.erasure.services:process_due_deletions",
            every_seconds=3600,
        ),
    ),
)
APP_CONFIG = CONTEXT.app
