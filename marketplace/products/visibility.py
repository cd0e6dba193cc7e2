"""What borrowers may see: a listed product of an institution in active cooperation.

One condition for the portal's queries, the search index and applying, so a suspended or
not-yet-contracted institution's products leave every one of them at once.
"""

from __future__ import annotations

from piccolo.columns.combination import Combinable

from marketplace.institutions.statuses import InstitutionStatus
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product


def on_portal() -> Combinable:
    return (Product.status == ProductStatus.LISTED) & (
        Product.institution.status == InstitutionStatus.ACTIVE
    )
