"""The catalogue's category codes and their names as shipped. Codes are stored on products
and in filter URLs, so they never change; operators override names, order and visibility
(tables.py), and a code without an override shows as declared here."""

from __future__ import annotations

from marketplace.i18n import N_

CATEGORIES: dict[str, str] = {
    "consumer": N_("消费贷"),
    "business": N_("经营贷"),
    "car": N_("车贷"),
    "mortgage": N_("房抵贷"),
    "credit_card": N_("信用卡"),
}
