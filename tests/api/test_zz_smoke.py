from tests.booking_builders import booking_body, make_departure


def test_smoke(client, org, db):
    dep = make_departure(db, org.id, capacity=3)
    r = client.post(
        "/api/v1/bookings", headers=org.headers("manager"), json=booking_body(dep, adults=2)
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["total"] == 10000 and b["payment_status"] == "unpaid" and b["held_seats"] == 2
    r = client.post(
        "/api/v1/bookings", headers=org.headers("manager"), json=booking_body(dep, adults=2)
    )
    assert r.status_code == 409 and r.json()["error"]["details"]["available_spots"] == 1, r.text
    r = client.post(
        f"/api/v1/bookings/{b['id']}/transitions",
        headers=org.headers("owner"),
        json={"to_status": "payment_confirmed"},
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "INVALID_TRANSITION"
    r = client.post(
        f"/api/v1/bookings/{b['id']}/transitions",
        headers=org.headers("owner"),
        json={"to_status": "payment_pending", "idempotency_key": "k1"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/bookings/{b['id']}/transitions",
        headers=org.headers("owner"),
        json={"to_status": "payment_confirmed"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRECONDITION_FAILED", r.text
    r = client.post(
        f"/api/v1/bookings/{b['id']}/payments/manual",
        headers=org.headers("accountant"),
        json={"amount": 10000, "method": "cash"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/bookings/{b['id']}/transitions",
        headers=org.headers("accountant"),
        json={"to_status": "payment_confirmed"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["payment_status"] == "paid"
    r = client.post(
        "/api/core/booking-lifecycle",
        headers=org.headers("owner"),
        json={"bookingId": b["id"], "toStatus": "supplier_confirmed", "actorType": "webhook"},
    )
    assert r.status_code == 403 and r.json()["ok"] is False, r.text
    r = client.post(
        "/api/core/booking-lifecycle",
        headers=org.headers("owner"),
        json={
            "bookingId": b["id"],
            "toStatus": "supplier_confirmed",
            "actorType": "user",
            "idempotencyKey": "x",
        },
    )
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = client.post(
        f"/api/v1/bookings/{b['id']}/cancel",
        headers=org.headers("manager"),
        json={"reason": "changed plans"},
    )
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/bookings?status=cancelled", headers=org.headers("owner"))
    assert r.json()["total_count"] == 1, r.text
    r = client.get(f"/api/v1/bookings/{b['id']}/events", headers=org.headers("owner"))
    assert [e["to_status"] for e in r.json()] == [
        "booking_created",
        "payment_pending",
        "payment_confirmed",
        "supplier_confirmed",
        "cancelled",
    ]
    r = client.post(
        "/api/v1/bookings",
        headers=org.headers("manager"),
        json=booking_body(dep, adults=3),
    )
    assert r.status_code == 201, r.text
