"""The permission table, held whole against API.md's "Who may do what" (transcribed below)."""

import pytest

from tos.identity.permissions import TABLE, Perm, Role, Scope, may_manage_role, scope_for

# API.md, column order: owner admin manager staff accountant guide (reseller: nothing on /api/v1).
# "+" allowed, "own" row rule, "-" refused, "notown" admins (not owners), "staffonly" managers.
SPEC = """
catalog.read        +      +      +          +    +  +
catalog.write       +      +      -          -    -  -
schedules.create    +      +      -          -    -  -
schedules.update    +      +      +          -    -  -
schedules.read      +      +      +          +    +  own
guides.read         +      +      +          +    +  own
guides.write        +      +      -          -    -  -
bookings.read       +      +      +          own  +  own
bookings.write      +      +      +          own  -  -
bookings.cancel     +      +      +          own  -  -
money.write         +      +      -          -    +  -
customers.read      +      +      +          +    +  -
customers.write     +      +      +          +    -  -
reports.read        +      +      +          -    +  -
audit.read          +      +      -          -    +  -
users.manage        +      notown staffonly  -    -  -
channels.manage     +      +      -          -    -  -
outbox.manage       +      +      -          -    -  -
organization.write  +      +      -          -    -  -
"""
ROLES = [Role.OWNER, Role.ADMIN, Role.MANAGER, Role.STAFF, Role.ACCOUNTANT, Role.GUIDE]
CELL = {"+": Scope.ALL, "own": Scope.OWN, "-": None, "notown": Scope.NOT_OWNERS,
        "staffonly": Scope.STAFF_ONLY}  # fmt: skip


def _spec_cells():
    for line in SPEC.strip().splitlines():
        perm, *cells = line.split()
        for role, cell in zip(ROLES, cells, strict=True):
            yield Perm(perm), role, CELL[cell]


@pytest.mark.parametrize("perm,role,expected", list(_spec_cells()))
def test_every_cell_matches_the_specification(perm, role, expected):
    assert scope_for(role, perm) is expected


def test_the_table_has_exactly_the_specified_rows_plus_octo():
    spec_perms = {line.split()[0] for line in SPEC.strip().splitlines()}
    assert {p.value for p in TABLE} == spec_perms | {"octo.access"}


@pytest.mark.parametrize("perm", list(Perm))
def test_resellers_reach_nothing_but_octo(perm):
    assert scope_for(Role.RESELLER, perm) is (Scope.ALL if perm is Perm.OCTO_ACCESS else None)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.RESELLER])
def test_only_resellers_reach_octo(role):
    assert scope_for(role, Perm.OCTO_ACCESS) is None


@pytest.mark.parametrize(
    "scope,target,allowed",
    [(Scope.ALL, r, True) for r in Role]
    + [(Scope.NOT_OWNERS, r, r is not Role.OWNER) for r in Role]
    + [(Scope.STAFF_ONLY, r, r is Role.STAFF) for r in Role]
    + [(Scope.OWN, r, False) for r in Role],
)
def test_user_management_scopes_cover_the_right_roles(scope, target, allowed):
    assert may_manage_role(scope, target) is allowed


def test_an_unknown_role_is_refused_loudly():
    with pytest.raises(ValueError):
        scope_for("superuser", Perm.CATALOG_READ)
