from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "consents",
    __file__,
    [Consent, ConsentWithdrawal, DataExport],
    depends_on=("accounts", "institutions"),
    jobs={"consents.export": "marketplace.consents.jobs:build_export"},
    public=("services", "queries", "notices"),
)
APP_CONFIG = CONTEXT.app
