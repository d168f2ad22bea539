import pytest
from sqlalchemy import select

from tos.db import tenancy
from tos.identity.models import ApiKey, Organization, User


def test_a_query_on_tenant_rows_without_a_scope_fails(db):
    with db(write=False) as session, pytest.raises(tenancy.MissingTenantScope):
        session.scalars(select(User)).all()


def test_a_scoped_query_sees_only_its_organization(db, org, other_org):
    with db(write=False, organization_id=org.id) as session:
        orgs = {u.organization_id for u in session.scalars(select(User))}
        keys = {k.organization_id for k in session.scalars(select(ApiKey))}
    assert orgs == {org.id} and keys == {org.id}


def test_a_joined_query_is_filtered_on_every_tenant_table(db, org, other_org):
    with db(write=False, organization_id=org.id) as session:
        rows = session.execute(select(ApiKey.id, User.organization_id)
                               .join(User, User.id == ApiKey.user_id)).all()  # fmt: skip
    assert rows and {r[1] for r in rows} == {org.id}


def test_organizations_themselves_are_not_tenant_rows(db, org, other_org):
    with db(write=False) as session:
        slugs = set(session.scalars(select(Organization.slug)))
    assert {org.slug, other_org.slug} <= slugs


def test_a_new_row_cannot_be_written_into_another_organization(db, org, other_org):
    with db(write=True, organization_id=org.id) as session:
        session.add(User(organization_id=other_org.id, email="x@y.z", name="X", role="staff"))
        with pytest.raises(tenancy.MissingTenantScope):
            session.flush()
        session.rollback()


def test_a_new_row_gets_the_sessions_organization(db, org):
    with db(write=True, organization_id=org.id) as session:
        user = User(email="stamped@example.com", name="S", role="staff")
        session.add(user)
        session.flush()
        assert user.organization_id == org.id
        session.rollback()


def test_an_unscoped_system_session_may_read_across_organizations(db, org, other_org):
    with db(write=False) as session, tenancy.unscoped(session):
        orgs = set(session.scalars(select(User.organization_id)))
    assert {org.id, other_org.id} <= orgs
