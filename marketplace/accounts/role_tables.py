"""Edits of the role × permission matrix (PRODUCT.md A2); the code matrix is the default."""

from piccolo.columns import Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class CustomRole(Table, tablename="custom_role"):
    """A role created by the super admin; it starts with no permission (deny by default).
    (kind, code) is unique (migration)."""

    id: Serial
    kind = Varchar(length=20)  # staff | operator
    code = Varchar(length=40)
    label = Varchar(length=20)
    created_by = Varchar(length=120, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class RoleGrant(Table, tablename="role_grant"):
    """One cell that differs from the code matrix; `version` is the matrix version that last
    changed it, which an edit must name to be accepted (no lost update).
    (kind, role, permission) is unique (migration)."""

    id: Serial
    kind = Varchar(length=20)
    role = Varchar(length=40)
    permission = Varchar(length=60)
    granted = Boolean()
    version = Integer()
    updated_by = Varchar(length=120, default="")
    updated_at = Timestamptz(default=TimestamptzNow())


class RoleMatrixChange(Table, tablename="role_matrix_change"):
    """Every edit of the matrix, numbered: the matrix's version is the highest `version`."""

    id: Serial
    version = Integer(unique=True)
    action = Varchar(length=20)  # grant | revoke | create_role
    kind = Varchar(length=20)
    role = Varchar(length=40)
    permission = Varchar(length=60, default="")
    reason = Text(default="")
    actor_id = Integer(null=True, default=None)
    actor_label = Varchar(length=120, default="")
    at = Timestamptz(default=TimestamptzNow())
