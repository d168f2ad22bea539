"""Seed 002 websites and payloads for channel tests, through the real endpoints."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class SiteFixture:
    slug: str
    uuid: str
    api_key: str
    webhook_secret: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def register_site(client, org, *, slug: str | None = None, **body: Any) -> SiteFixture:
    slug = slug or f"site-{uuid.uuid4().hex[:8]}"
    r = client.post(
        "/api/websites",
        headers=org.headers("admin"),
        json={"id": slug, "name": f"Site {slug}", "domain": f"{slug}.test", **body},
    )
    assert r.status_code == 201, r.text
    data = r.json()
    return SiteFixture(slug, data["website"]["uuid"], data["api_key"], data["webhook_secret"])


SEED_EXAMPLE: dict[str, Any] = {
    "event": "booking.created",
    "source_booking_id": "uuid-from-source-database",
    "booking_ref": "HW-000023",
    "package_name": "World A+",
    "package_price": 3490,
    "activity_date": "2026-03-01",
    "time_slot": "10:00",
    "guest_count": 2,
    "total_amount": 8500,
    "discount_amount": 0,
    "currency": "THB",
    "status": "confirmed",
    "customer": {
        "name": "John Doe",
        "email": "john@example.com",
        "phone": "1234567890",
        "country_code": "+66",
        "special_requests": "Vegetarian lunch please",
    },
    "transport": {
        "type": "hotel_pickup",
        "hotel_name": "Marriott Phuket",
        "room_number": "1205",
        "non_players": 1,
        "private_passengers": 0,
        "cost": 0,
    },
    "addons": [
        {"name": "Photo Package", "quantity": 1, "unit_price": 500},
        {"name": "Souvenir T-Shirt", "quantity": 2, "unit_price": 350},
    ],
    "stripe_payment_intent_id": "pi_xxxxxxxxxxxxx",
    "created_at": "2026-02-20T10:30:00Z",
}


def seed_payload(**overrides: Any) -> dict[str, Any]:
    """Seed 002's own example body with a fresh source id (and any field overridden)."""
    body = copy.deepcopy(SEED_EXAMPLE)
    body["source_booking_id"] = str(uuid.uuid4())
    body["activity_date"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    body.update(overrides)
    return body


def sync(client, site: SiteFixture, body: dict[str, Any]):
    return client.post("/api/bookings/sync", headers=site.headers, json=body)
