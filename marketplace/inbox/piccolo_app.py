from marketplace.contexts import Cron, declare_context
from marketplace.inbox.tables import InboxItem

CONTEXT = declare_context(
    "inbox",
    __file__,
    [InboxItem],
    depends_on=("accounts", "notifications"),
    crons=(Cron("inbox.purge", "marketplace.inbox.services:purge_old", every_seconds=86400),),
    public=("services", "queries"),
)
APP_CONFIG = CONTEXT.app
