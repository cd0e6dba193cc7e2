from marketplace.appconfig import app_config
from marketplace.parameters.tables import SystemParameter

APP_CONFIG = app_config("parameters", __file__, [SystemParameter])
