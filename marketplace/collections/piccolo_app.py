from marketplace.collections.tables import (
    CollectionContact,
    CollectionDay,
    CollectionRefusal,
    LoanNotice,
)
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "collections",
    __file__,
    [CollectionContact, CollectionDay, CollectionRefusal, LoanNotice],
    depends_on=("accounts", "institutions", "loans"),
    # Checked hourly; acts once per Asia/Shanghai business date, after the loans' daily run.
    crons=(
        Cron(
            "collections.daily_notices",
            "marketplace.collections.jobs:daily_notices",
            every_seconds=3600,
            run_at_startup=True,
        ),
    ),
    public=("services", "queries", "kinds"),
)
APP_CONFIG = CONTEXT.app
