"""Who is acting: passed explicitly to every service verb."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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
    # Resolved from the role × permission matrix when the actor is loaded (accounts), so
    # checking a permission needs no query and this module depends on no context.
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def with_request(self, ip: str, request_id: str) -> Actor:
        return replace(self, ip=ip, request_id=request_id)


# Background steps of a lifecycle (delivering an application) are the system's to take.
SYSTEM = Actor(
    user_id=None,
    kind="system",
    label="system",
    role="system",
    permissions=frozenset({"application.deliver"}),
)
