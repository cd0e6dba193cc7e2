from marketplace.contexts import declare_context
from marketplace.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

CONTEXT = declare_context(
    "webhooks",
    __file__,
    [WebhookEndpoint, WebhookDelivery, WebhookAttempt],
    depends_on=("institutions", "outbox"),
    jobs={"webhooks.send": "marketplace.webhooks.jobs:send_job"},
    public=("services", "queries", "events", "signing", "tables"),
)
APP_CONFIG = CONTEXT.app
