from marketplace.appconfig import app_config
from marketplace.audit.tables import AuditEntry

APP_CONFIG = app_config("audit", __file__, [AuditEntry])
