from piccolo.columns import Serial, Text, Timestamptz, Varchar
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
