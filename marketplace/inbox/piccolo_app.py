from marketplace.contexts import declare_context
from marketplace.inbox.tables import InboxItem

CONTEXT = declare_context(
    "inbox",
    __file__,
    [InboxItem],
    depends_on=("accounts", "notifications"),
    public=("services", "queries"),
)
APP_CONFIG = CONTEXT.app
