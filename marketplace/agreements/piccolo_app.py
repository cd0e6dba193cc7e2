from marketplace.agreements.tables import Agreement, AgreementSignature
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "agreements",
    __file__,
    [Agreement, AgreementSignature],
    depends_on=("accounts", "institutions"),
    crons=(
        Cron(
            "agreements.expire",
            "marketplace.agreements.jobs:expire_past_agreements",
            every_seconds=3600,
        ),
    ),
    public=("services", "queries", "statuses", "terms"),
)
APP_CONFIG = CONTEXT.app
