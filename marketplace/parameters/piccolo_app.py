from marketplace.contexts import declare_context
from marketplace.parameters.tables import ParameterChange, SystemParameter

CONTEXT = declare_context(
    "parameters",
    __file__,
    [SystemParameter, ParameterChange],
    public=("services", "queries", "specs"),
)
APP_CONFIG = CONTEXT.app
