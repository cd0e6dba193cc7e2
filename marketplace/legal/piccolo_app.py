from marketplace.contexts import Cron, declare_context
from marketplace.legal.tables import LegalVersion

CONTEXT = declare_context(
    "legal",
    __file__,
    [LegalVersion],
    crons=(
        Cron(
            "legal.publish",
            "marketplace.legal.jobs:publish_texts",
            every_seconds=3600,
            run_at_startup=True,
        ),
    ),
    public=("services", "queries", "texts", "inventory"),
)
APP_CONFIG = CONTEXT.app
