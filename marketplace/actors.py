"""Who is acting: passed explicitly to every service verb."""

from __future__ import annotations

from dataclasses import dataclass, replace

from marketplace.accounts.roles import has_permission


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    kind: str  # borrower | staff | operator | system
    label: str
    role: str = ""
    institution_id: int | None = None
    institution_name: str = ""
    ip: str = ""
    request_id: str = ""

    def can(self, permission: str) -> bool:
        return has_permission(self.kind, self.role, permission)

    def with_request(self, ip: str, request_id: str) -> Actor:
        return replace(self, ip=ip, request_id=request_id)


SYSTEM = Actor(user_id=None, kind="system", label="system", role="system")
