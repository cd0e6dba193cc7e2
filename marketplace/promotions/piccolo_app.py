from marketplace.contexts import Cron, declare_context
from marketplace.promotions.tables import Promotion

CONTEXT = declare_context(
    "promotions",
    __file__,
    [Promotion],
    depends_on=("accounts", "institutions", "products"),
    # Starts and ends promotions on their Asia/Shanghai dates (and reindexes the products).
    crons=(Cron("promotions.advance", "marketplace.promotions.jobs:advance", every_seconds=300),),
    public=("services", "queries", "statuses", "placements"),
)
APP_CONFIG = CONTEXT.app
