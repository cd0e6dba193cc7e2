from marketplace.campaigns.tables import Banner, Campaign
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "campaigns",
    __file__,
    [Banner, Campaign],
    depends_on=("accounts",),
    public=("services", "queries", "statuses", "links", "images"),
)
APP_CONFIG = CONTEXT.app
