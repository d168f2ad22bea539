import datetime as dt

import pytest
from sqlalchemy import select

from tos.audit.models import AuditEntry
from tos.catalog import parts, queries, service
from tos.catalog.models import PricingTier, Tour, TourFaq, Variant
from tos.catalog.patterns import AvailabilityPattern, misfit
from tos.catalog.schemas import FaqIn, PricingTierIn, TourIn, TourPatch, VariantIn, VariantPatch
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.inventory.models import Schedule


@pytest.fixture
def session(db, org):
    with db(write=True, organization_id=org.id) as s:
        yield s


def new_tour(session, org, name="Old Town Walk", **fields):
    data = TourIn(name=name, duration_minutes=90, **fields)
    return service.create_tour(session, org.actor(), data=data, default_timezone=org.timezone)


def new_variant(session, org, tour, name="Morning", **fields):
    return parts.create_variant(session, org.actor(), tour.id, data=VariantIn(name=name, **fields))


def actions(session, entity_id):
    session.flush()  # record() adds its entry without flushing it
    stmt = select(AuditEntry.action).where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(stmt.order_by(AuditEntry.id)))


def test_slugs_are_made_unique_by_counting_up(session, org):
    slugs = [new_tour(session, org).slug for _ in range(3)]
    assert slugs == ["old-town-walk", "old-town-walk-2", "old-town-walk-3"]


def test_a_very_long_name_still_gives_a_slug_that_fits_with_its_suffix(session, org):
    first, second = new_tour(session, org, "x" * 200), new_tour(session, org, "x" * 200)
    assert len(first.slug) <= 120
    assert second.slug == first.slug + "-2"


def test_a_name_without_letters_gets_a_placeholder_slug(session, org):
    assert new_tour(session, org, "!!!").slug == "item"


def test_an_explicit_slug_that_exists_raises_a_conflict(session, org):
    new_tour(session, org, slug="walk")
    with pytest.raises(Conflict):
        new_tour(session, org, slug="walk")


def test_a_created_tour_takes_the_default_timezone_and_is_audited(session, org):
    tour = new_tour(session, org)
    assert tour.timezone == org.timezone
    assert actions(session, tour.id) == ["tour.created"]


def test_an_update_changes_only_what_differs_and_audits_once(session, org):
    tour = new_tour(session, org)
    service.update_tour(session, org.actor(), tour.id, changes=TourPatch(name="Old Town Walk"))
    assert actions(session, tour.id) == ["tour.created"]
    service.update_tour(session, org.actor(), tour.id, changes=TourPatch(capacity=5))
    assert tour.capacity == 5
    assert actions(session, tour.id) == ["tour.created", "tour.updated"]


def test_capacity_below_the_minimum_is_refused_on_the_field_that_changed(session, org):
    tour = new_tour(session, org, min_participants=4)
    with pytest.raises(ValidationFailed) as err:
        service.update_tour(session, org.actor(), tour.id, changes=TourPatch(capacity=3))
    assert err.value.details["fields"][0]["path"] == ["capacity"]


def add_schedule(session, tour, variant):
    starts = dt.datetime(2030, 5, 1, 9, tzinfo=dt.UTC)
    session.add(Schedule(
        tour_id=tour.id, variant_id=variant.id, date=starts.date(), start_time=dt.time(9),
        end_time=dt.time(10, 30), timezone="UTC", starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=90),
    ))  # fmt: skip
    session.flush()


def test_a_tour_with_a_schedule_is_not_deleted(session, org):
    tour = new_tour(session, org)
    add_schedule(session, tour, new_variant(session, org, tour))
    with pytest.raises(Conflict) as err:
        service.delete_tour(session, org.actor(), tour.id)
    assert err.value.details == {"schedules": 1, "tour_id": tour.id}


def test_a_deleted_tour_takes_its_parts_with_it(session, org):
    tour = new_tour(session, org)
    new_variant(session, org, tour)
    parts.create_faq(session, org.actor(), tour.id, data=FaqIn(question="Q", answer="A"))
    service.delete_tour(session, org.actor(), tour.id)
    session.expire_all()
    assert session.scalar(select(Tour).where(Tour.id == tour.id)) is None
    assert list(session.scalars(select(Variant).where(Variant.tour_id == tour.id))) == []
    assert list(session.scalars(select(TourFaq).where(TourFaq.tour_id == tour.id))) == []
    assert actions(session, tour.id) == ["tour.created", "tour.deleted"]


def test_a_variant_with_a_schedule_is_not_deleted(session, org):
    tour = new_tour(session, org)
    variant = new_variant(session, org, tour)
    add_schedule(session, tour, variant)
    with pytest.raises(Conflict):
        parts.delete_variant(session, org.actor(), tour.id, variant.id)


def test_a_deleted_variant_takes_its_own_tiers_and_leaves_the_tours(session, org):
    tour = new_tour(session, org)
    variant = new_variant(session, org, tour)
    own = parts.create_tier(
        session,
        org.actor(),
        tour.id,
        default_currency="EUR",
        data=PricingTierIn(name="Own", amount=1, variant_id=variant.id),
    )
    shared = parts.create_tier(session, org.actor(), tour.id, default_currency="EUR",
                               data=PricingTierIn(name="Shared", amount=2))  # fmt: skip
    parts.delete_variant(session, org.actor(), tour.id, variant.id)
    left = session.scalars(select(PricingTier.id).where(PricingTier.tour_id == tour.id))
    assert list(left) == [shared.id]
    assert actions(session, own.id) == ["pricing_tier.created", "pricing_tier.deleted"]


def test_the_availability_type_changes_only_when_every_pattern_fits(session, org):
    tour = new_tour(session, org)
    variant = new_variant(
        session, org, tour, availability_pattern=AvailabilityPattern(start_times=["09:00"])
    )
    with pytest.raises(ValidationFailed):
        service.update_tour(session, org.actor(), tour.id,
                            changes=TourPatch(availability_type="opening_hours"))  # fmt: skip
    parts.update_variant(
        session,
        org.actor(),
        tour.id,
        variant.id,
        changes=VariantPatch(availability_pattern=AvailabilityPattern()),
    )
    service.update_tour(session, org.actor(), tour.id,
                        changes=TourPatch(availability_type="opening_hours"))  # fmt: skip
    assert tour.availability_type == "opening_hours"


def test_a_tier_cannot_name_a_variant_of_another_tour(session, org):
    tour, other = new_tour(session, org), new_tour(session, org, "Other")
    variant = new_variant(session, org, other)
    with pytest.raises(ValidationFailed) as err:
        parts.create_tier(
            session,
            org.actor(),
            tour.id,
            default_currency="EUR",
            data=PricingTierIn(name="A", amount=1, variant_id=variant.id),
        )
    assert err.value.details["fields"][0]["path"] == ["variant_id"]


def test_another_organizations_tour_is_not_found(db, session, org, other_org):
    tour = new_tour(session, org)
    session.commit()
    with db(write=False, organization_id=other_org.id) as theirs:
        with pytest.raises(NotFound):
            queries.get_tour(theirs, tour.id)
        with pytest.raises(NotFound):
            queries.get_part(theirs, Variant, tour.id, "anything")


@pytest.mark.parametrize(
    "filters,expected",
    [
        ({"destination": "vn"}, ["Hanoi Street Food", "Halong Cruise"]),
        ({"destination": "LA"}, ["Luang Prabang Alms"]),
        ({"style": "food"}, ["Hanoi Street Food"]),
        ({"style": "cruise", "destination": "VN"}, ["Halong Cruise"]),
        ({"q": "HAL"}, ["Halong Cruise"]),
        ({"q": "_"}, []),
        ({"status": "draft"}, ["Luang Prabang Alms"]),
    ],
)
def test_the_tour_query_filters_inside_json_arrays_on_every_database(
    session, org, filters, expected
):
    new_tour(session, org, "Hanoi Street Food", destinations=["VN"], styles=["food", "culture"],
             status="active")  # fmt: skip
    new_tour(session, org, "Halong Cruise", destinations=["VN"], styles=["cruise"],
             status="active")  # fmt: skip
    new_tour(session, org, "Luang Prabang Alms", destinations=["LA", "TH"], styles=["culture"])
    found = session.scalars(queries.tours_query(session, **filters))
    assert sorted(t.name for t in found) == sorted(expected)


def test_from_prices_prefer_default_tiers_and_skip_expired_ones(session, org):
    priced, unpriced = new_tour(session, org), new_tour(session, org, "Free")
    for name, amount, default, until in [
        ("Adult", 3000, True, None),
        ("Child", 1000, False, None),
        ("Old adult", 10, True, dt.date(2000, 1, 1)),
    ]:
        parts.create_tier(session, org.actor(), priced.id, default_currency="EUR",
                          data=PricingTierIn(name=name, amount=amount, is_default=default,
                                             valid_until=until))  # fmt: skip
    prices = queries.from_prices(session, [priced.id, unpriced.id])
    assert prices == {priced.id: {"amount": 3000, "currency": "EUR"}}


def test_a_pattern_is_stored_with_iso_dates_and_without_empty_fields():
    pattern = AvailabilityPattern(type="specific_dates", dates=["2030-01-02", "2030-01-01"],
                                  start_times=["10:00"])  # fmt: skip
    assert pattern.stored() == {
        "type": "specific_dates",
        "start_times": ["10:00"],
        "dates": ["2030-01-01", "2030-01-02"],
        "excluded_dates": [],
    }


@pytest.mark.parametrize(
    "pattern,availability_type,field",
    [
        ({"start_times": ["09:00"]}, "opening_hours", "start_times"),
        ({"opening_hours": [{"open": "09:00", "close": "17:00"}]}, "start_time", "opening_hours"),
        ({"start_times": ["09:00"]}, "start_time", None),
        ({"type": "on_request"}, "opening_hours", None),
    ],
)
def test_misfit_names_the_field_a_tour_of_that_type_cannot_use(pattern, availability_type, field):
    problem = misfit(pattern, availability_type)
    assert (problem[0] if problem else None) == field
