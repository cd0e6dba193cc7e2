from marketplace.contexts import Cron, declare_context
from marketplace.outbox.tables import OutboxMessage

CONTEXT = declare_context(
    "outbox",
    __file__,
    [OutboxMessage],
    # Re-sends whatever Redis lost: every pending row whose attempt is overdue.
    crons=(
        Cron(
            "outbox.sweep",
            "marketplace.outbox.services:sweep",
            every_seconds=5,
            run_at_startup=True,
        ),
    ),
)
APP_CONFIG = CONTEXT.app
