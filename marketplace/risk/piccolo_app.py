from marketplace.contexts import Cron, declare_context
from marketplace.risk.tables import BlacklistEntry, RiskEvent, RiskHold, RiskObservation

CONTEXT = declare_context(
    "risk",
    __file__,
    [RiskObservation, RiskEvent, RiskHold, BlacklistEntry],
    crons=(Cron("risk.purge", "marketplace.risk.services:purge_expired", every_seconds=86400),),
    public=("services", "queries", "rules"),
)
APP_CONFIG = CONTEXT.app
