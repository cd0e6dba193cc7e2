from piccolo.columns import Date, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Institution(Table, tablename="institution"):
    id: Serial  # created by Piccolo; declared for type checkers
    code = Varchar(length=60, unique=True)
    name = Varchar(length=120)
    short_name = Varchar(length=60)
    kind = Varchar(length=30)
    licence_no = Varchar(length=80)
    city = Varchar(length=30)
    description = Text(default="")
    service_phone = Varchar(length=30, default="")
    contact_name = Varchar(length=60, default="")
    contact_email = Varchar(length=120, default="")
    status = Varchar(length=20, default="active")
    created_at = Timestamptz(default=TimestamptzNow())
    # Admitted through a partner application (I1/A4): its registration and licences, the
    # dates the daily licence check watches, and why its status last changed.
    credit_code = Varchar(length=18, null=True, default=None, unique=True)
    licence_issuer = Varchar(length=120, default="")
    licence_expires_on = Date(null=True, default=None)
    business_licence_no = Varchar(length=80, default="")
    business_licence_expires_on = Date(null=True, default=None)
    status_reason = Text(default="")
    status_changed_at = Timestamptz(null=True, default=None)
