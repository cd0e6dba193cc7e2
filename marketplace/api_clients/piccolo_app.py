from marketplace.api_clients.tables import ApiClient, ApiIdempotentRequest, ApiToken
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "api_clients",
    __file__,
    [ApiClient, ApiToken, ApiIdempotentRequest],
    depends_on=("accounts", "institutions"),
    crons=(
        Cron(
            "api_clients.purge",
            "marketplace.api_clients.services:purge_expired",
            every_seconds=3600,
        ),
    ),
    public=("services", "queries", "scopes"),
)
APP_CONFIG = CONTEXT.app
