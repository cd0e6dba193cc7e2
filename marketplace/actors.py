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
    # The first-party device cookie's random id (anti-fraud velocity); never personal data.
    device: str = ""
    # Resolved from the role × permission matrix when the actor is loaded (accounts), so
    # checking a permission needs no query and this module depends on no context.
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def with_request(self, ip: str, request_id: str, device: str = "") -> Actor:
        return replace(self, ip=ip, request_id=request_id, device=device or self.device)


# Background steps of a lifecycle (delivering an application) are the system's to take.
SYSTEM = Actor(
    user_id=None,
    kind="system",
    label="system",
    role="system",
    permissions=frozenset({"application.deliver"}),
)
