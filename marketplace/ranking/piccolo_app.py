from marketplace.contexts import declare_context
from marketplace.ranking.tables import OrderingRules

CONTEXT = declare_context(
    "ranking",
    __file__,
    [OrderingRules],
    depends_on=("accounts",),
    public=("services", "queries", "rules"),
)
APP_CONFIG = CONTEXT.app
