"""OCTO test helpers: a reseller with an API key (made through the resellers service, as the
admin API does), products with bookable availabilities, and request helpers."""

from __future__ import annotations

from dataclasses import dataclass

from tests.booking_builders import add_schedule
from tests.inventory_builders import make_tour
from tos.db.session import SessionFactory
from tos.identity.actors import Actor
from tos.octo import resellers

BOTH = "octo/content, octo/pricing"


@dataclass
class ResellerFixture:
    id: str
    token: str
    user_id: str

    def headers(self, capabilities: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if capabilities is not None:
            headers["Octo-Capabilities"] = capabilities
        return headers


def make_reseller(
    db: SessionFactory, org_id: str, *, name: str = "Acme OTA", commission_bps: int | None = 2000
) -> ResellerFixture:
    actor = Actor(type="system", id=None, organization_id=org_id, name="tests")
    with db(write=True, organization_id=org_id) as session:
        reseller = resellers.create_reseller(
            session, actor, {"name": name, "commission_bps": commission_bps}
        )
        user, _, token = resellers.add_user_with_key(session, actor, reseller.id, name="")
        session.commit()
        return ResellerFixture(reseller.id, token, user.id)


@dataclass
class Product:
    tour_id: str
    option_id: str
    adult: str  # unit ids
    child: str
    slots: list[str]  # availability ids, one a day from `first_day` on


def make_product(
    db: SessionFactory,
    org_id: str,
    *,
    capacity: int | None = 10,
    days: int = 3,
    first_day: int = 5,
    availability_type: str = "start_time",
) -> Product:
    tour = make_tour(
        db, org_id, capacity=capacity, availability_type=availability_type,
        tiers=[
            {"name": "Adult", "amount": 5000, "currency": "EUR", "unit_type": "ADULT"},
            {"name": "Child", "amount": 2500, "currency": "EUR", "unit_type": "CHILD",
             "age_min": 4, "age_max": 12},
        ],
    )  # fmt: skip
    slots = [
        add_schedule(
            db, org_id, tour.id, tour.variant_id, capacity=capacity, days_ahead=first_day + i
        )  # fmt: skip
        for i in range(days)
    ]
    return Product(tour.id, tour.variant_id, tour.tier_ids["Adult"], tour.tier_ids["Child"], slots)


def reserve_body(p: Product, *, slot: int = 0, adults: int = 2, children: int = 0, **extra):
    units = [{"unitId": p.adult}] * adults + [{"unitId": p.child}] * children
    return {"productId": p.tour_id, "optionId": p.option_id, "availabilityId": p.slots[slot],
            "unitItems": units, **extra}  # fmt: skip


def octo_error(r) -> str:
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert set(body) >= {"error", "errorMessage"}, body
    return body["error"]
