from marketplace.contexts import declare_context
from marketplace.institutions.tables import Institution

CONTEXT = declare_context(
    "institutions", __file__, [Institution], public=("services", "queries", "statuses")
)
APP_CONFIG = CONTEXT.app
