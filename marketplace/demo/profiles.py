"""Demo content: the contact details on the demo borrower's saved application profile
(P5). Fictional address and emergency contact."""

from __future__ import annotations

DEMO_CONTACT = {
    "address": "北京市朝阳区建国路 88 号 2 号楼 1502 室",
    "contact_name": "李秀英",
    "contact_relation": "spouse",
    "contact_mobile": "13700137000",
}
DEMO_PURPOSE = "home_improvement"
