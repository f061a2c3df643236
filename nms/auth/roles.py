"""The role-permission matrix, in one place.

Every decision about *what* a principal may do starts here; *where* (which sites)
comes from the site the account is bound to (see :mod:`nms.auth.scope`).
Deny by default: a permission not listed for a role is refused.
"""

from __future__ import annotations

PERMISSIONS: tuple[str, ...] = (
    "status.read",
    "metrics.read",
    "alerts.read",
    "alerts.ack",
    "reports.read",
    "ipam.read",
    "ipam.request",
    "ipam.approve",
    "ipam.admin",
    "configs.read",
    "configs.fetch",
    "accounts.admin",
    "audit.read",
    "ingest.write",
    "portals.approve",
)

# Pseudo-permissions a view may declare instead of a real one.
PUBLIC = "public"  # anyone, even anonymous (login page)
AUTHENTICATED = "authenticated"  # any signed-in person (logout, own password, whoami)
PSEUDO_PERMISSIONS = (PUBLIC, AUTHENTICATED)

_VIEWER = frozenset({"status.read", "metrics.read", "alerts.read", "reports.read", "ipam.read"})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "county_admin": _VIEWER | {"ipam.request", "portals.approve"},
    "operator": _VIEWER | {"alerts.ack", "ipam.approve", "configs.read", "configs.fetch", "portals.approve"},
    # everything a person can hold; ingest.write belongs to agents only
    "administrator": frozenset(PERMISSIONS) - {"ingest.write"},
}
ROLES: tuple[str, ...] = ("administrator", "operator", "county_admin", "viewer")

ROLE_LABELS: dict[str, str] = {
    "administrator": "管理员 Administrator",
    "operator": "值班员 Operator",
    "county_admin": "县级管理员 County administrator",
    "viewer": "只读 Viewer",
}

# Tokens that do not belong to a person.
AGENT_PERMISSIONS: frozenset[str] = frozenset({"ingest.write"})
KIOSK_PERMISSIONS: frozenset[str] = frozenset({"status.read", "metrics.read", "alerts.read"})

TOKEN_KINDS = ("agent", "user", "kiosk")


def permissions_of_role(role: str) -> frozenset[str]:
    """Permissions of a role; an unknown role has none (deny by default)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def check_role(role: str) -> str:
    """Return the role, or raise ValueError naming the valid ones."""
    if role not in ROLE_PERMISSIONS:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def check_permission(permission: str) -> str:
    if permission not in PERMISSIONS and permission not in PSEUDO_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; see nms.auth.roles.PERMISSIONS")
    return permission
