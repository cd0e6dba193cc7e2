from marketplace.appconfig import app_config
from marketplace.outbox.tables import OutboxMessage

APP_CONFIG = app_config("outbox", __file__, [OutboxMessage])
