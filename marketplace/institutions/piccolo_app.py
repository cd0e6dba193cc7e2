from marketplace.appconfig import app_config
from marketplace.institutions.tables import Institution

APP_CONFIG = app_config("institutions", __file__, [Institution])
