"""Merging customers: every booking and promo redemption moves to the survivor, its blanks are
filled, the merged email keeps resolving to it (also through chains), the merge is audited and
refused when it makes no sense; concurrent merges and bookings lose nothing."""

import datetime as dt
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.booking_builders import audit_actions, booking_body, create_booking, make_departure
from tos.audit.models import AuditEntry
from tos.bookings import service as bookings
from tos.bookings.models import Booking
from tos.bookings.schemas import BookingIn
from tos.core.clock import utcnow
from tos.core.errors import Conflict
from tos.crm import service
from tos.crm.models import Customer
from tos.identity.models import Organization
from tos.pricing.models import PromoRedemption, PromotionalCode

API = "/api/v1/customers"


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=50)


def merge(client, org, survivor_id, other_id, role="manager"):
    return client.post(f"{API}/{survivor_id}/merge", headers=org.headers(role),
                       json={"other_id": other_id})  # fmt: skip


def merged(client, org, survivor_id, other_id) -> dict:
    r = merge(client, org, survivor_id, other_id)
    assert r.status_code == 200, r.text
    return r.json()


def customer_of(client, org, dep, email, **extra) -> str:
    return create_booking(client, org, dep, email=email, **extra)["customer"]["id"]


def set_fields(db, org, customer_id, **fields) -> None:
    with db(write=True, organization_id=org.id) as s:
        c = s.scalar(select(Customer).where(Customer.id == customer_id))
        for name, value in fields.items():
            setattr(c, name, value)
        s.commit()


def booking_facts(db, org) -> tuple[int, int, set[str]]:
    """How many bookings, their summed totals, and the customers they belong to."""
    with db(write=False, organization_id=org.id) as s:
        n, total = s.execute(select(func.count(Booking.id), func.sum(Booking.total))).one()
        owners = set(s.scalars(select(Booking.customer_id).distinct()))
        return n, int(total or 0), owners


def get(client, org, customer_id) -> dict:
    r = client.get(f"{API}/{customer_id}", headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()


# --- what moves -----------------------------------------------------------------------------------


def test_every_booking_moves_to_the_survivor(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com", adults=2)
    other = customer_of(client, org, dep, "ana.silva@work.example", adults=1, children=1)
    create_booking(client, org, dep, email="ana.silva@work.example", adults=3)
    create_booking(client, org, body={
        "customer": {"email": "ana.silva@work.example"},
        "line_items": [{"description": "Transfer", "quantity": 1, "unit_amount": 2000}],
    })  # fmt: skip
    count, total, _ = booking_facts(db, org)

    survivor = merged(client, org, keep, other)
    assert survivor["id"] == keep and survivor["bookings_count"] == 4
    assert len(survivor["bookings"]) == 4
    assert booking_facts(db, org) == (count, total, {keep})
    gone = get(client, org, other)
    assert (gone["merged_into_id"], gone["bookings"], gone["bookings_count"]) == (keep, [], 0)
    listed = client.get(API, headers=org.headers()).json()
    assert [c["id"] for c in listed["items"]] == [keep] and listed["total_count"] == 1


def test_promo_redemptions_move_with_the_bookings(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    booking = create_booking(client, org, dep, email="dup@example.com")
    other = booking["customer"]["id"]
    with db(write=True, organization_id=org.id) as s:
        now = utcnow()
        code = PromotionalCode(code="SUMMER", discount_type="fixed", discount_value=500,
                               currency="EUR", valid_from=now - dt.timedelta(days=1),
                               valid_until=now + dt.timedelta(days=30))  # fmt: skip
        s.add(code)
        s.flush()
        s.add(PromoRedemption(promotional_code_id=code.id, booking_id=booking["id"],
                              customer_id=other, amount=500))  # fmt: skip
        s.commit()
    merged(client, org, keep, other)
    with db(write=False, organization_id=org.id) as s:
        assert set(s.scalars(select(PromoRedemption.customer_id))) == {keep}


def test_the_survivor_keeps_its_values_and_fills_its_blanks(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    early, late = utcnow() - dt.timedelta(days=30), utcnow() + dt.timedelta(hours=1)
    set_fields(db, org, keep, first_name="Ana", last_name="", phone=None,
               tags=["vip", "family"], notes="Prefers mornings", source="referral",
               source_detail=None, preferred_currency=None, marketing_consent=False,
               marketing_consent_date=None)  # fmt: skip
    set_fields(db, org, other, first_name="Maria", last_name="Silva", phone="+351912345678",
               tags=["family", "repeat"], notes="Vegetarian", source="social",
               source_detail="Instagram", preferred_currency="USD", marketing_consent=True,
               marketing_consent_date=early, last_activity_at=late)  # fmt: skip

    s = merged(client, org, keep, other)
    assert (s["first_name"], s["last_name"], s["phone"]) == ("Ana", "Silva", "+351912345678")
    assert (s["email"], s["source"]) == ("ana@example.com", "referral")
    assert (s["source_detail"], s["preferred_currency"]) == ("Instagram", "USD")
    assert s["tags"] == ["vip", "family", "repeat"]
    assert s["notes"] == "Prefers mornings\n\nVegetarian"
    assert s["marketing_consent"] is True
    assert dt.datetime.fromisoformat(s["marketing_consent_date"]) == early
    assert dt.datetime.fromisoformat(s["last_activity_at"]) == late


@pytest.mark.parametrize(
    "keep_consent,other_consent,expected",
    [((False, None), (False, None), (False, None)), ((True, 1), (True, 5), (True, 5)),
     ((True, 5), (False, None), (True, 5)), ((True, 1), (False, 9), (True, 1))],
)  # fmt: skip
def test_consent_is_kept_if_either_consented_since_the_earlier_date(
    client, db, org, dep, keep_consent, other_consent, expected
):
    """(consented, days ago); a withdrawn consent's stale date does not count."""
    now = utcnow()

    def at(days):
        return None if days is None else now - dt.timedelta(days=days)

    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    for cid, (consent, days) in ((keep, keep_consent), (other, other_consent)):
        set_fields(db, org, cid, marketing_consent=consent, marketing_consent_date=at(days))
    s = merged(client, org, keep, other)
    consent_date = s["marketing_consent_date"]
    assert s["marketing_consent"] is expected[0]
    assert (consent_date and dt.datetime.fromisoformat(consent_date)) == at(expected[1])


_blank_or = st.one_of(st.just(""), st.sampled_from(["Ana", "Rui"]))
_maybe = st.one_of(st.none(), st.sampled_from(["x", "y"]))
_when = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
)
_customers = st.builds(
    Customer,
    first_name=_blank_or,
    last_name=_blank_or,
    phone=st.one_of(st.none(), st.sampled_from(["+351912345678", "+442079460958"])),
    notes=_maybe,
    tags=st.lists(st.sampled_from(["vip", "family", "repeat", "ota"]), unique=True),
    marketing_consent=st.booleans(),
    marketing_consent_date=st.one_of(st.none(), _when),
    source_detail=_maybe,
    preferred_currency=st.one_of(st.none(), st.sampled_from(["EUR", "USD"])),
    last_activity_at=_when,
)


@given(survivor=_customers, other=_customers)
def test_absorbing_keeps_what_the_survivor_knows_and_loses_nothing_of_the_other(survivor, other):
    """The merge rules as properties over any two customers (no database)."""
    fields = ("first_name", "last_name", "phone", "source_detail", "preferred_currency")
    kept = {f: getattr(survivor, f) for f in fields}
    tags, notes = list(survivor.tags), (survivor.notes, other.notes)
    consent = (survivor.marketing_consent, survivor.marketing_consent_date)
    other_consent = (other.marketing_consent, other.marketing_consent_date)
    activity = max(survivor.last_activity_at, other.last_activity_at)
    service.absorb(survivor, other)
    for f in fields:
        assert getattr(survivor, f) == (kept[f] or getattr(other, f))
    assert survivor.tags[: len(tags)] == tags
    assert set(survivor.tags) == set(tags) | set(other.tags)
    assert len(survivor.tags) == len(set(survivor.tags))
    assert all(n in (survivor.notes or "") for n in notes if n)
    assert survivor.marketing_consent == (consent[0] or other_consent[0])
    dates = [d for c, d in (consent, other_consent) if c and d]
    if survivor.marketing_consent:
        assert survivor.marketing_consent_date == (min(dates) if dates else None)
    assert survivor.last_activity_at == activity


# --- the merged email resolves to the survivor ----------------------------------------------------


def test_a_new_booking_with_the_merged_email_lands_on_the_survivor(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    set_fields(db, org, keep, last_activity_at=utcnow() - dt.timedelta(days=3))
    merged(client, org, keep, other)

    booking = create_booking(client, org, dep, email="DUP@example.com")
    assert booking["customer"]["id"] == keep
    assert booking_facts(db, org)[2] == {keep}
    survivor = get(client, org, keep)
    assert survivor["bookings_count"] == 3
    activity = dt.datetime.fromisoformat(survivor["last_activity_at"])
    assert utcnow() - activity < dt.timedelta(minutes=1)


def test_chains_flatten_and_resolve_to_the_last_survivor(client, db, org, dep):
    a = customer_of(client, org, dep, "a@example.com")
    b = customer_of(client, org, dep, "b@example.com")
    c = customer_of(client, org, dep, "c@example.com")
    merged(client, org, b, a)
    merged(client, org, c, b)
    assert get(client, org, a)["merged_into_id"] == c  # one hop, not a -> b -> c
    assert get(client, org, b)["merged_into_id"] == c
    assert create_booking(client, org, dep, email="a@example.com")["customer"]["id"] == c
    assert booking_facts(db, org)[2] == {c}
    assert get(client, org, c)["bookings_count"] == 4


# --- refusals -------------------------------------------------------------------------------------


def test_merging_a_customer_into_itself_is_422(client, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    r = merge(client, org, keep, keep)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["other_id"]


def test_unknown_or_foreign_customers_are_404(client, db, org, other_org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    theirs = customer_of(client, other_org, make_departure(db, other_org.id), "ana@example.com")
    for survivor, other in ((keep, "nope"), (keep, theirs), (theirs, keep), ("nope", keep)):
        r = merge(client, org, survivor, other)
        assert r.status_code == 404, (survivor, other, r.text)
    assert get(client, org, keep)["bookings_count"] == 1


def test_an_already_merged_customer_is_409_either_way(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    third = customer_of(client, org, dep, "third@example.com")
    merged(client, org, keep, other)
    for survivor, victim in ((third, other), (other, third)):
        r = merge(client, org, survivor, victim)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["details"] == {"customer_id": other, "merged_into_id": keep}
    r = client.patch(f"{API}/{other}", headers=org.headers(), json={"notes": "x"})
    assert r.status_code == 409
    assert booking_facts(db, org)[2] == {keep, third}


def test_an_unknown_field_in_a_merge_is_422(client, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    r = client.post(f"{API}/{keep}/merge", headers=org.headers(), json={"id": "x"})
    assert r.status_code == 422


# --- audit ----------------------------------------------------------------------------------------


def test_the_merge_is_audited_with_the_other_customers_snapshot(client, db, org, dep):
    keep = customer_of(client, org, dep, "ana@example.com")
    booking = create_booking(client, org, dep, email="dup@example.com", adults=2)
    other = booking["customer"]["id"]
    set_fields(db, org, other, phone="+351912345678")
    merged(client, org, keep, other)

    assert audit_actions(client, org, "customer", keep)[-1] == "customer.merged"
    assert audit_actions(client, org, "customer", other)[-1] == "customer.updated"
    with db(write=False, organization_id=org.id) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "customer.merged"))
        assert entry.entity_id == keep and entry.actor_id == org.user_ids["manager"]
        assert entry.before["phone"] is None and entry.after["phone"] == "+351912345678"
        snap = entry.after["merged_customer"]
        assert (snap["id"], snap["email"], snap["merged_into_id"]) == (
            other, "dup@example.com", None
        )  # fmt: skip
        assert entry.after["moved_booking_ids"] == [booking["id"]]
        assert entry.after["moved_promo_redemption_ids"] == []


# --- concurrency ----------------------------------------------------------------------------------


def _merge_in_session(db, org, survivor_id, other_id, results, barrier):
    with db(write=True, organization_id=org.id) as s:
        barrier.wait()
        try:
            service.merge_customers(s, org.actor("manager"), survivor_id, other_id)
            s.commit()
            results.append("ok")
        except Conflict:
            s.rollback()
            results.append("conflict")


def test_two_opposite_merges_at_once_lose_no_booking(client, db, org, dep):
    """A into B and B into A at the same time: the locks (taken in id order) let one win; the
    other sees the result and is refused, and every booking ends on the one live customer."""
    a = customer_of(client, org, dep, "a@example.com")
    b = customer_of(client, org, dep, "b@example.com")
    create_booking(client, org, dep, email="b@example.com")
    count, total, _ = booking_facts(db, org)
    results: list[str] = []
    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=_merge_in_session, args=(db, org, x, y, results, barrier))
        for x, y in ((a, b), (b, a))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["conflict", "ok"]
    n, t, owners = booking_facts(db, org)
    assert (n, t) == (count, total) and len(owners) == 1
    live = owners.pop()
    assert get(client, org, live)["merged_into_id"] is None
    assert get(client, org, live)["bookings_count"] == 3


def _book(db, org, dep, email, started, done, out):
    with db(write=True, organization_id=org.id) as s:
        started.set()
        organization = s.scalar(select(Organization).where(Organization.id == org.id))
        data = BookingIn.model_validate(booking_body(dep, email=email))
        booking = bookings.create_booking(s, org.actor("manager"), organization, data)
        s.commit()
        out.append(booking.customer_id)
    done.set()


def test_a_booking_racing_a_merge_lands_on_the_survivor(client, db, org, dep):
    """The merge holds both rows while a booking for the merged email is being written: the
    booking waits for it and then finds the survivor, so the merge cannot strand it."""
    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    started, done, out = threading.Event(), threading.Event(), []
    with db(write=True, organization_id=org.id) as s:
        service.merge_customers(s, org.actor("manager"), keep, other)
        s.flush()
        thread = threading.Thread(target=_book, args=(db, org, dep, "dup@example.com",
                                                      started, done, out))  # fmt: skip
        thread.start()
        started.wait(10)
        assert not done.wait(0.3)  # the booking waits for the merge
        s.commit()
    thread.join(30)
    assert out == [keep]
    assert booking_facts(db, org)[2] == {keep}


def test_a_merge_while_a_booking_is_being_priced_waits_and_moves_it(
    client, db, org, dep, monkeypatch
):
    """The booking has found the customer and not written anything yet when the merge starts:
    the merge must wait for the booking's commit and then move it, not strand it on the
    merged customer."""
    keep = customer_of(client, org, dep, "ana@example.com")
    other = customer_of(client, org, dep, "dup@example.com")
    results: list[str] = []
    merging = threading.Thread(
        target=_merge_in_session, args=(db, org, keep, other, results, threading.Barrier(1))
    )
    found = service.find_or_create_customer

    def found_then_merge(*args, **kwargs):
        customer = found(*args, **kwargs)
        merging.start()
        merging.join(0.5)
        return customer

    monkeypatch.setattr(bookings, "find_or_create_customer", found_then_merge)
    booking = create_booking(client, org, dep, email="dup@example.com")
    merging.join(30)
    assert results == ["ok"]
    assert booking["customer"]["id"] == other  # found before the merge, moved by it
    assert booking_facts(db, org)[0] == 3 and booking_facts(db, org)[2] == {keep}
