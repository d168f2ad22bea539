"""Who may do what: API.md's permission table as one pure table, checked in one place.

A cell is a Scope: ALL rows, OWN rows (a row rule applied in queries, so other rows are 404),
or a narrower rule for user management. A missing cell means 403.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    ACCOUNTANT = "accountant"
    GUIDE = "guide"
    RESELLER = "reseller"


class Scope(StrEnum):
    ALL = "all"
    OWN = "own"  # staff: bookings assigned to them; guide: schedules they are assigned to
    NOT_OWNERS = "not_owners"  # admins manage every user but owners
    STAFF_ONLY = "staff_only"  # managers manage staff users only (seed 004)


class Perm(StrEnum):
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"  # catalog, pricing rules, policies, templates
    SCHEDULES_CREATE = "schedules.create"  # create, generate, cancel
    SCHEDULES_UPDATE = "schedules.update"  # capacity, open/close, guide
    SCHEDULES_READ = "schedules.read"  # schedules and manifests
    GUIDES_READ = "guides.read"
    GUIDES_WRITE = "guides.write"
    BOOKINGS_READ = "bookings.read"
    BOOKINGS_WRITE = "bookings.write"  # create, update, assign, non-money transitions, rebook
    BOOKINGS_CANCEL = "bookings.cancel"  # refund = policy amount
    MONEY_WRITE = "money.write"  # manual payments, refunds, chosen refunds, money transitions
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"  # write, merge
    REPORTS_READ = "reports.read"
    AUDIT_READ = "audit.read"
    USERS_MANAGE = "users.manage"  # users and API keys
    CHANNELS_MANAGE = "channels.manage"  # websites, webhooks, provider settings, resellers
    OUTBOX_MANAGE = "outbox.manage"  # dead letters and failed syncs: read, replay
    ORGANIZATION_WRITE = "organization.write"
    OCTO_ACCESS = "octo.access"  # resellers reach /octo only


A, OWN = Scope.ALL, Scope.OWN
OW, AD, M, S, AC, G = (
    Role.OWNER,
    Role.ADMIN,
    Role.MANAGER,
    Role.STAFF,
    Role.ACCOUNTANT,
    Role.GUIDE,
)

# Rows of API.md's "Who may do what", plus guides (not in API.md; decided: everyone who reads
# schedules reads guide profiles, guides their own; owners and admins write them) and the
# organization's own settings (owner, admin).
TABLE: dict[Perm, dict[Role, Scope]] = {
    Perm.CATALOG_READ: {OW: A, AD: A, M: A, S: A, AC: A, G: A},
    Perm.CATALOG_WRITE: {OW: A, AD: A},
    Perm.SCHEDULES_CREATE: {OW: A, AD: A},
    Perm.SCHEDULES_UPDATE: {OW: A, AD: A, M: A},
    Perm.SCHEDULES_READ: {OW: A, AD: A, M: A, S: A, AC: A, G: OWN},
    Perm.GUIDES_READ: {OW: A, AD: A, M: A, S: A, AC: A, G: OWN},
    Perm.GUIDES_WRITE: {OW: A, AD: A},
    Perm.BOOKINGS_READ: {OW: A, AD: A, M: A, S: OWN, AC: A, G: OWN},
    Perm.BOOKINGS_WRITE: {OW: A, AD: A, M: A, S: OWN},
    Perm.BOOKINGS_CANCEL: {OW: A, AD: A, M: A, S: OWN},
    Perm.MONEY_WRITE: {OW: A, AD: A, AC: A},
    Perm.CUSTOMERS_READ: {OW: A, AD: A, M: A, S: A, AC: A},
    Perm.CUSTOMERS_WRITE: {OW: A, AD: A, M: A, S: A},
    Perm.REPORTS_READ: {OW: A, AD: A, M: A, AC: A},
    Perm.AUDIT_READ: {OW: A, AD: A, AC: A},
    Perm.USERS_MANAGE: {OW: A, AD: Scope.NOT_OWNERS, M: Scope.STAFF_ONLY},
    Perm.CHANNELS_MANAGE: {OW: A, AD: A},
    Perm.OUTBOX_MANAGE: {OW: A, AD: A},
    Perm.ORGANIZATION_WRITE: {OW: A, AD: A},
    Perm.OCTO_ACCESS: {Role.RESELLER: A},
}


def scope_for(role: Role | str, perm: Perm) -> Scope | None:
    """The scope `role` has for `perm`, or None when it is refused."""
    return TABLE[perm].get(Role(role))


def may_manage_role(manager_scope: Scope, target_role: Role | str) -> bool:
    """Whether a user-management scope covers a user of `target_role`."""
    target = Role(target_role)
    if manager_scope is Scope.ALL:
        return True
    if manager_scope is Scope.NOT_OWNERS:
        return target is not Role.OWNER
    if manager_scope is Scope.STAFF_ONLY:
        return target is Role.STAFF
    return False


def perm_for_transition(target: str) -> Perm:
    """Seed 004's "accountant changes stage only" = the money transitions; cancelling has its
    own row in the table."""
    if target in ("payment_confirmed", "refunded"):
        return Perm.MONEY_WRITE
    if target == "cancelled":
        return Perm.BOOKINGS_CANCEL
    return Perm.BOOKINGS_WRITE
