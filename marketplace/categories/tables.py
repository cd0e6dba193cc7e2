from piccolo.columns import Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.categories.defaults import CODE_MAX_LENGTH


class ProductCategory(Table, tablename="product_category"):
    """An operator's settings for one category code (defaults.py): a code without a row
    shows with its shipped name, in its declared place."""

    id: Serial  # created by Piccolo; declared for type checkers
    code = Varchar(length=CODE_MAX_LENGTH, unique=True)
    name = Varchar(length=20)
    position = Integer(default=0)
    active = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())
