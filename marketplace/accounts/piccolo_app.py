from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "accounts",
    __file__,
    [User, BorrowerProfile],
    depends_on=("institutions",),
    public=(
        "services",
        "queries",
        "roles",
        "profiles",
        "second_factor",
        "limits",
        "codes",
        "staff",
    ),
)
APP_CONFIG = CONTEXT.app
