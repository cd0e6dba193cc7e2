from marketplace.appconfig import app_config
from marketplace.notifications.tables import Notification

APP_CONFIG = app_config("notifications", __file__, [Notification])
