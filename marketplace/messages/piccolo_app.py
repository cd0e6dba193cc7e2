from marketplace.contexts import declare_context
from marketplace.messages.tables import Message

CONTEXT = declare_context(
    "messages",
    __file__,
    [Message],
    depends_on=("accounts", "applications"),
    public=("services", "queries"),
)
APP_CONFIG = CONTEXT.app
