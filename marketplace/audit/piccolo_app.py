from marketplace.audit.tables import AuditEntry
from marketplace.contexts import declare_context

CONTEXT = declare_context("audit", __file__, [AuditEntry])
APP_CONFIG = CONTEXT.app
