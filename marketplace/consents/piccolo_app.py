from marketplace.appconfig import app_config
from marketplace.consents.tables import Consent

APP_CONFIG = app_config("consents", __file__, [Consent], depends_on=("accounts", "institutions"))
