from marketplace.accounts.role_tables import CustomRole, RoleGrant, RoleMatrixChange
from marketplace.accounts.tables import (
    AccountPasswordLink,
    AccountStatusChange,
    BorrowerProfile,
    User,
)
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "accounts",
    __file__,
    [
        User,
        BorrowerProfile,
        AccountStatusChange,
        AccountPasswordLink,
        CustomRole,
        RoleGrant,
        RoleMatrixChange,
    ],
    depends_on=("institutions",),
    jobs={"accounts.send_reset_code": "marketplace.accounts.jobs:send_reset_code_job"},
    public=(
        "services",
        "queries",
        "roles",
        "profiles",
        "second_factor",
        "limits",
        "codes",
        "staff",
        "credentials",
        "phone",
        "closure",
        "management",
        "directory",
        "role_matrix",
    ),
)
APP_CONFIG = CONTEXT.app
