"""The catalogue's category codes and their names as shipped. Codes are stored on products
and in filter URLs, so they never change; operators override names, order and visibility
(tables.py), and a code without an override shows as declared here. Operators may also
create categories of their own (a row with a new code)."""

from __future__ import annotations

import re

from marketplace.i18n import N_

CODE_MAX_LENGTH = 30
# Every category code, shipped or created: lowercase ASCII, a letter first.
CODE_PATTERN = re.compile(rf"[a-z][a-z0-9_]{{1,{CODE_MAX_LENGTH - 1}}}")

CATEGORIES: dict[str, str] = {
    "consumer": N_("消费贷"),
    "business": N_("经营贷"),
    "car": N_("车贷"),
    "mortgage": N_("房抵贷"),
    "credit_card": N_("信用卡"),
}
