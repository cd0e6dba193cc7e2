from marketplace.contexts import declare_context
from marketplace.parameters.tables import SystemParameter

CONTEXT = declare_context("parameters", __file__, [SystemParameter])
APP_CONFIG = CONTEXT.app
