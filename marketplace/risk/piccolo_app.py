from marketplace.contexts import declare_context
from marketplace.risk.tables import BlacklistEntry, RiskEvent, RiskHold, RiskObservation

CONTEXT = declare_context(
    "risk",
    __file__,
    [RiskObservation, RiskEvent, RiskHold, BlacklistEntry],
    public=("services", "queries", "rules"),
)
APP_CONFIG = CONTEXT.app
