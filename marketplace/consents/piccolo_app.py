from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "consents",
    __file__,
    [Consent, ConsentWithdrawal, DataExport],
    depends_on=("accounts", "institutions"),
    jobs={"consents.export": "marketplace.consents.jobs:build_export"},
    crons=(Cron("consents.purge_exports", "marketplace.consents.services:purge_exports", 86400),),
    public=("services", "queries", "notices"),
)
APP_CONFIG = CONTEXT.app
