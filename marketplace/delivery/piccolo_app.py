from marketplace.contexts import declare_context
from marketplace.delivery.tables import DeliverySettings

CONTEXT = declare_context(
    "delivery",
    __file__,
    [DeliverySettings],
    depends_on=("accounts", "institutions"),
    public=("services", "queries", "rules"),
)
APP_CONFIG = CONTEXT.app
