"""Manual payments and refunds: who may record them, payment status derived from the ledger,
refunds never exceeding what came in, validation, audit."""

import pytest

from tests.booking_builders import (
    audit_actions,
    count_rows,
    create_booking,
    get_booking,
    make_departure,
    pay,
    refund,
)
from tos.core.money import MAX_AMOUNT
from tos.payments.models import LedgerEntry

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
MONEY = ["owner", "admin", "accountant"]


@pytest.fixture
def booking(client, db, org):
    dep = make_departure(db, org.id)
    return create_booking(client, org, dep, adults=2, role="staff")  # total 10000 EUR


def error(r) -> dict:
    return r.json()["error"]


def paths(r) -> list:
    return [f["path"] for f in error(r)["details"]["fields"]]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_recording_a_manual_payment_follows_the_permission_table(client, org, booking, role):
    r = pay(client, org, booking["id"], 1000, role=role)
    assert r.status_code == (201 if role in MONEY else 403), r.text
    assert get_booking(client, org, booking["id"])["paid"] == (1000 if role in MONEY else 0)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_recording_a_manual_refund_follows_the_permission_table(client, org, booking, role):
    pay(client, org, booking["id"], 1000)
    r = refund(client, org, booking["id"], 400, role=role)
    assert r.status_code == (201 if role in MONEY else 403), r.text


def test_a_manual_payment_is_a_succeeded_manual_entry_in_the_bookings_currency(
    client, org, booking
):
    r = pay(client, org, booking["id"], 2500, method="bank_transfer", reference="SEPA-77")
    entry = r.json()
    assert (entry["kind"], entry["status"], entry["amount"], entry["currency"]) == (
        "manual",
        "succeeded",
        2500,
        "EUR",
    )
    assert (entry["method"], entry["reference"]) == ("bank_transfer", "SEPA-77")
    assert (entry["actor_type"], entry["actor_id"]) == ("user", org.user_ids["accountant"])


def test_the_method_defaults_to_cash(client, org, booking):
    assert pay(client, org, booking["id"], 100).json()["method"] == "cash"


def test_a_manual_refund_is_a_succeeded_manual_refund_entry_with_its_reason(client, org, booking):
    pay(client, org, booking["id"], 1000)
    entry = refund(client, org, booking["id"], 300, reason="broken bus").json()
    assert (entry["kind"], entry["status"], entry["amount"], entry["reason"]) == (
        "manual_refund",
        "succeeded",
        300,
        "broken bus",
    )


def test_payment_status_moves_from_unpaid_through_refunded(client, org, booking):
    bid = booking["id"]
    seen = [get_booking(client, org, bid)["payment_status"]]
    pay(client, org, bid, 4000)
    seen.append(get_booking(client, org, bid)["payment_status"])
    pay(client, org, bid, 6000)
    seen.append(get_booking(client, org, bid)["payment_status"])
    refund(client, org, bid, 3000)
    seen.append(get_booking(client, org, bid)["payment_status"])
    refund(client, org, bid, 7000)
    seen.append(get_booking(client, org, bid)["payment_status"])
    assert seen == ["unpaid", "partial", "paid", "partially_refunded", "refunded"]


def test_the_booking_shows_paid_refunded_balance_and_every_entry(client, org, booking):
    pay(client, org, booking["id"], 7000)
    refund(client, org, booking["id"], 2000)
    b = get_booking(client, org, booking["id"])
    assert (b["paid"], b["refunded"], b["refund_pending"], b["balance_due"]) == (
        7000,
        2000,
        0,
        5000,
    )
    assert [(e["kind"], e["amount"]) for e in b["ledger"]] == [
        ("manual", 7000),
        ("manual_refund", 2000),
    ]


def test_paying_more_than_is_due_leaves_no_balance(client, org, booking):
    pay(client, org, booking["id"], 12000)
    b = get_booking(client, org, booking["id"])
    assert (b["payment_status"], b["balance_due"]) == ("paid", 0)


def test_the_list_shows_the_derived_payment_status(client, org, booking):
    pay(client, org, booking["id"], 10000)
    refund(client, org, booking["id"], 1)
    items = client.get("/api/v1/bookings", headers=org.headers()).json()["items"]
    assert [b["payment_status"] for b in items] == ["partially_refunded"]


# --- refunds never exceed what came in ---------------------------------------------------------


def test_a_refund_larger_than_what_came_in_is_409_with_the_numbers(client, db, org, booking):
    pay(client, org, booking["id"], 3000)
    refund(client, org, booking["id"], 1000)
    r = refund(client, org, booking["id"], 2001)
    assert r.status_code == 409
    err = error(r)
    assert err["code"] == "REFUND_EXCEEDS_PAID"
    assert err["details"] == {
        "refundable": 2000,
        "requested": 2001,
        "paid": 3000,
        "refunded": 1000,
        "refund_pending": 0,
    }
    assert count_rows(db, org.id, LedgerEntry) == 2


def test_a_refund_with_nothing_paid_is_409(client, org, booking):
    r = refund(client, org, booking["id"], 1)
    assert r.status_code == 409 and error(r)["details"]["refundable"] == 0


def test_everything_that_came_in_may_be_refunded_and_then_nothing_more(client, org, booking):
    pay(client, org, booking["id"], 1500)
    pay(client, org, booking["id"], 500)
    assert refund(client, org, booking["id"], 2000).status_code == 201
    assert refund(client, org, booking["id"], 1).status_code == 409


def test_many_small_refunds_together_never_exceed_what_came_in(client, org, booking):
    pay(client, org, booking["id"], 1000)
    codes = [refund(client, org, booking["id"], 300).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 409]
    assert get_booking(client, org, booking["id"])["refunded"] == 900


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -100, "ten", None, MAX_AMOUNT + 1, 1.5])
def test_a_bad_payment_amount_is_422_at_amount(client, org, booking, amount):
    r = client.post(
        f"/api/v1/bookings/{booking['id']}/payments/manual",
        headers=org.headers("accountant"),
        json={"amount": amount},
    )
    assert r.status_code == 422 and paths(r) == [["amount"]]


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1])
def test_a_bad_refund_amount_is_422_at_amount(client, org, booking, amount):
    r = refund(client, org, booking["id"], amount)
    assert r.status_code == 422 and paths(r) == [["amount"]]


def test_a_refund_needs_a_reason(client, org, booking):
    r = client.post(
        f"/api/v1/bookings/{booking['id']}/refunds/manual",
        headers=org.headers("accountant"),
        json={"amount": 1},
    )
    assert r.status_code == 422 and paths(r) == [["reason"]]


def test_an_empty_method_is_422_at_method(client, org, booking):
    assert paths(pay(client, org, booking["id"], 100, method="")) == [["method"]]


def test_a_payment_cannot_choose_its_own_kind_or_currency(client, org, booking):
    for field, value in [("kind", "captured"), ("currency", "USD"), ("status", "pending")]:
        r = pay(client, org, booking["id"], 100, **{field: value})
        assert r.status_code == 422 and paths(r) == [[field]]


def test_the_largest_storable_amount_is_accepted(client, org, booking):
    # Beyond 32 bits: money columns are 64-bit on every database.
    assert pay(client, org, booking["id"], MAX_AMOUNT).status_code == 201
    assert pay(client, org, booking["id"], MAX_AMOUNT).status_code == 201
    assert get_booking(client, org, booking["id"])["paid"] == 2 * MAX_AMOUNT


# --- audit and tenancy ----------------------------------------------------------------------------


def test_a_manual_payment_is_audited_with_the_caller(client, org, booking):
    entry = pay(client, org, booking["id"], 100, role="admin").json()
    r = client.get(
        f"/api/v1/audit?entity_type=payment&entity_id={entry['id']}",
        headers=org.headers("accountant"),
    )
    [audit] = r.json()["items"]
    assert audit["action"] == "payment.received" and audit["actor_id"] == org.user_ids["admin"]
    assert audit["after"]["booking_id"] == booking["id"] and audit["after"]["amount"] == 100


def test_a_manual_refund_is_audited(client, org, booking):
    pay(client, org, booking["id"], 100)
    entry = refund(client, org, booking["id"], 100).json()
    assert audit_actions(client, org, "refund", entry["id"]) == ["refund.processed"]


def test_a_refused_refund_is_not_audited(client, org, booking):
    refund(client, org, booking["id"], 100)
    r = client.get("/api/v1/audit?action=refund.processed", headers=org.headers())
    assert r.json()["items"] == []


def test_money_on_another_organizations_booking_is_404_and_changes_nothing(
    client, db, org, other_org
):
    theirs = create_booking(client, other_org, make_departure(db, other_org.id))
    assert pay(client, org, theirs["id"], 100).status_code == 404
    assert refund(client, org, theirs["id"], 100).status_code == 404
    assert count_rows(db, other_org.id, LedgerEntry) == 0
