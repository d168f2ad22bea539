from sqlalchemy import func, select

from tos.catalog.models import Tour
from tos.identity.models import Organization
from tos.inventory.models import Schedule


def test_the_demo_loads_twice_without_duplicates_and_gives_a_working_key(db, client):
    from tos.demo import load_demo

    first = load_demo()
    with db(write=False) as session:
        org_id = session.scalar(select(Organization.id).where(Organization.slug == "demo"))
    with db(write=False, organization_id=org_id) as session:
        counts = (
            session.scalar(select(func.count()).select_from(Tour)),
            session.scalar(select(func.count()).select_from(Schedule)),
        )
    second = load_demo()
    with db(write=False, organization_id=org_id) as session:
        assert (
            session.scalar(select(func.count()).select_from(Tour)),
            session.scalar(select(func.count()).select_from(Schedule)),
        ) == counts
        types = set(session.scalars(select(Tour.availability_type)))
        zones = set(session.scalars(select(Tour.timezone)))
        guided = session.scalar(select(func.count()).where(Schedule.assigned_guide_id.is_not(None)))
    assert first != second
    assert types == {"start_time", "opening_hours"} and len(zones) == 2
    assert counts[1] > 100 and guided == 10
    tours = client.get("/api/v1/tours", headers={"Authorization": f"Bearer {second}"})
    assert tours.status_code == 200 and tours.json()["total_count"] == 2
