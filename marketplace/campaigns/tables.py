"""Home-page banners and campaign landing pages (PRODUCT.md A9), edited by operators.

Both carry a window [start_at, end_at) and a status (draft | active | archived): an
active one is shown while the window is open. `version` counts saves, so two editors
saving the same row cannot overwrite each other (the second is refused).
"""

from piccolo.columns import Array, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class Banner(Table, tablename="campaign_banner"):
    id: Serial  # created by Piccolo; declared for type checkers
    title = Varchar(length=30)
    subtitle = Varchar(length=60, default="")
    # The image in storage (encrypted at rest), its type as sniffed at upload.
    image_key = Varchar(length=200)
    image_type = Varchar(length=20)
    alt_text = Varchar(length=100)
    # A path of this site ("/articles") or a reference ("campaign:<slug>", "product:<id>").
    link = Varchar(length=300)
    placement = Varchar(length=20, default="home_top")
    sort_order = Integer(default=0)
    start_at = Timestamptz()
    end_at = Timestamptz()
    status = Varchar(length=20, default="draft")
    version = Integer(default=1)
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    updated_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Campaign(Table, tablename="campaign"):
    id: Serial
    slug = Varchar(length=60, unique=True)
    title = Varchar(length=40)
    intro = Varchar(length=500, default="")
    rules = Varchar(length=2000, default="")
    # The products the page lists, in the order chosen; only those listed now are shown.
    product_ids = Array(base_column=Integer(), default=list)
    start_at = Timestamptz()
    end_at = Timestamptz()
    status = Varchar(length=20, default="draft")
    version = Integer(default=1)
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    updated_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
