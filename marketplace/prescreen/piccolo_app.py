from marketplace.contexts import declare_context
from marketplace.prescreen.tables import RuleSet, Screening

CONTEXT = declare_context(
    "prescreen",
    __file__,
    [RuleSet, Screening],
    depends_on=("accounts", "institutions", "applications"),
    jobs={"prescreen.screen": "marketplace.prescreen.jobs:screen_job"},
    public=("services", "queries", "statuses", "rules"),
)
APP_CONFIG = CONTEXT.app
