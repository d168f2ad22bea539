"""A bookable departure for booking tests: a tour with Adult and Child tiers and one schedule,
made with the ORM; bookings themselves always go through the API or the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.inventory_builders import make_guide, make_tour, set_schedule
from tos.bookings.models import Booking
from tos.db.session import SessionFactory
from tos.inventory.models import Schedule


@dataclass
class Departure:
    tour_id: str
    variant_id: str
    schedule_id: str
    adult: str  # tier ids
    child: str


def make_departure(
    db: SessionFactory,
    org_id: str,
    *,
    capacity: int | None = 10,
    days_ahead: int = 10,
    adult_price: int = 5000,
    child_price: int = 2500,
    currency: str = "EUR",
) -> Departure:
    tour = make_tour(
        db,
        org_id,
        capacity=capacity,
        tiers=[
            {"name": "Adult", "amount": adult_price, "currency": currency, "unit_type": "ADULT"},
            {"name": "Child", "amount": child_price, "currency": currency, "unit_type": "CHILD"},
        ],
    )
    schedule_id = add_schedule(
        db, org_id, tour.id, tour.variant_id, capacity=capacity, days_ahead=days_ahead
    )
    return Departure(
        tour.id, tour.variant_id, schedule_id, tour.tier_ids["Adult"], tour.tier_ids["Child"]
    )


def add_schedule(
    db: SessionFactory,
    org_id: str,
    tour_id: str,
    variant_id: str,
    *,
    capacity: int | None = 10,
    days_ahead: int = 10,
    hour: int = 9,
    status: str = "open",
) -> str:
    zone = ZoneInfo("Europe/Lisbon")
    day = dt.date.today() + dt.timedelta(days=days_ahead)
    start = dt.datetime.combine(day, dt.time(hour, 0), zone)
    with db(write=True, organization_id=org_id) as session:
        schedule = Schedule(
            tour_id=tour_id,
            variant_id=variant_id,
            date=day,
            start_time=dt.time(hour, 0),
            end_time=dt.time(hour + 2, 0),
            timezone="Europe/Lisbon",
            starts_at=start.astimezone(dt.UTC),
            ends_at=(start + dt.timedelta(hours=2)).astimezone(dt.UTC),
            capacity=capacity,
            status=status,
        )
        session.add(schedule)
        session.commit()
        return schedule.id


def booking_body(
    dep: Departure, *, adults: int = 1, children: int = 0, email: str = "ana@example.com", **extra
) -> dict:
    lines = [{"pricing_tier_id": dep.adult, "quantity": adults}]
    if children:
        lines.append({"pricing_tier_id": dep.child, "quantity": children})
    return {
        "schedule_id": dep.schedule_id,
        "line_items": lines,
        "customer": {"email": email, "first_name": "Ana", "last_name": "Silva"},
        **extra,
    }


# --- API helpers: bookings go through the API, facts are read back with the ORM -------------

# The lifecycle walked forward from booking_created; `pay` marks where the ledger must cover
# the amount due before the next step.
FORWARD = ["payment_pending", "payment_confirmed", "supplier_confirmed", "documents_generated"]


def create_booking(
    client,
    org,
    dep: Departure | None = None,
    *,
    role: str = "manager",
    body: dict | None = None,
    **extra,
) -> dict:
    """A booking made through POST /api/v1/bookings; asserts it was created."""
    payload = body if body is not None else booking_body(dep, **extra)  # type: ignore[arg-type]
    r = client.post("/api/v1/bookings", headers=org.headers(role), json=payload)
    assert r.status_code == 201, r.text
    return r.json()


def move(client, org, booking_id: str, to_status: str, *, role: str = "owner", **body):
    return client.post(
        f"/api/v1/bookings/{booking_id}/transitions",
        headers=org.headers(role),
        json={"to_status": to_status, **body},
    )


def pay(client, org, booking_id: str, amount: int, *, role: str = "accountant", **body):
    r = client.post(
        f"/api/v1/bookings/{booking_id}/payments/manual",
        headers=org.headers(role),
        json={"amount": amount, **body},
    )
    return r


def refund(
    client, org, booking_id: str, amount: int, *, role: str = "accountant", reason: str = "goodwill"
):
    return client.post(
        f"/api/v1/bookings/{booking_id}/refunds/manual",
        headers=org.headers(role),
        json={"amount": amount, "reason": reason},
    )


def walk_to(client, org, booking: dict, status: str) -> dict:
    """Walk a booking_created booking forward to `status` (or completed / no_show), paying the
    amount due in full before payment_confirmed. Returns the booking as the last step left it."""
    special = {
        "booking_created": [],
        "completed": [*FORWARD, "completed"],
        "no_show": [*FORWARD, "no_show"],
        "cancelled": ["cancelled"],
    }
    steps = special[status] if status in special else FORWARD[: FORWARD.index(status) + 1]
    out = booking
    for step in steps:
        if step == "payment_confirmed" and booking["total"] > 0:
            assert pay(client, org, booking["id"], booking["total"]).status_code == 201
        r = move(client, org, booking["id"], step)
        assert r.status_code == 200, r.text
        out = r.json()["booking"]
    return out


def get_booking(client, org, booking_id: str, role: str = "owner") -> dict:
    r = client.get(f"/api/v1/bookings/{booking_id}", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def audit_actions(client, org, entity_type: str, entity_id: str) -> list[str]:
    r = client.get(
        f"/api/v1/audit?entity_type={entity_type}&entity_id={entity_id}&limit=200",
        headers=org.headers("owner"),
    )
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["items"]]


def service_key(client, org, *, role: str = "accountant", actor_type: str = "webhook") -> dict:
    """An API key of a new service user with a fixed actor type; headers and the user id."""
    r = client.post(
        "/api/v1/api-keys",
        headers=org.headers("owner"),
        json={"role": role, "actor_type": actor_type, "name": f"{actor_type} service"},
    )
    assert r.status_code == 201, r.text
    key = r.json()
    return {"headers": {"Authorization": f"Bearer {key['token']}"}, "user_id": key["user_id"]}


def seats_taken(db: SessionFactory, org_id: str, schedule_id: str) -> int:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(select(Schedule.seats_taken).where(Schedule.id == schedule_id))


def held_seats_sum(db: SessionFactory, org_id: str, schedule_id: str) -> int:
    """What the schedule's counter must equal: the seats its bookings hold."""
    with db(write=False, organization_id=org_id) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(Booking.held_seats), 0)).where(
                Booking.schedule_id == schedule_id
            )
        )
        return int(total or 0)


def count_rows(db: SessionFactory, org_id: str, model) -> int:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(select(func.count(model.id))) or 0


def lead_schedule(db: SessionFactory, org, schedule_id: str) -> str:
    """Make the org's guide user the guide of this schedule; returns the guide id."""
    guide_id = make_guide(db, org.id, user_id=org.user_ids["guide"])
    set_schedule(db, org.id, schedule_id, assigned_guide_id=guide_id)
    return guide_id
