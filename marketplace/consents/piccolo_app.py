from marketplace.consents.tables import Consent
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "consents",
    __file__,
    [Consent],
    depends_on=("accounts", "institutions"),
    public=("services", "queries", "notices"),
)
APP_CONFIG = CONTEXT.app
