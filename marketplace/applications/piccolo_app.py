from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "applications",
    __file__,
    [Application, ApplicationEvent],
    depends_on=("accounts", "consents", "institutions", "products"),
    jobs={"applications.deliver": "marketplace.applications.jobs:deliver_application_job"},
    public=("services", "queries", "statuses", "exports", "decisions", "acceptance", "reporting"),
)
APP_CONFIG = CONTEXT.app
