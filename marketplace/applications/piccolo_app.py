from marketplace.appconfig import app_config
from marketplace.applications.tables import Application, ApplicationEvent

APP_CONFIG = app_config(
    "applications",
    __file__,
    [Application, ApplicationEvent],
    depends_on=("accounts", "consents", "institutions", "products"),
)
