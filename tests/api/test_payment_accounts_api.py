"""An organization's own provider accounts: encrypted at rest, never shown, owner/admin only."""

import pytest
from sqlalchemy import select

from tos.payments import accounts, secrets
from tos.payments.models import PaymentAccount

BODY = {"secret_key": "sk_test_abcdefghijklmnop", "key_id": "pk_test_1234567890",
        "webhook_secret": "whsec_0123456789abcdef"}  # fmt: skip


def test_an_account_is_stored_encrypted_and_never_shown(client, db, org):
    r = client.put("/api/v1/payment-accounts/stripe", json=BODY, headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["label"] == "pk_test_…" and out["active"] is True
    assert out["webhook_url"] == f"/api/payments/webhook?provider=stripe&org={org.slug}"
    listed = client.get("/api/v1/payment-accounts", headers=org.headers())
    for secret in BODY.values():
        assert secret not in r.text and secret not in listed.text
    audit = client.get("/api/v1/audit?entity_type=payment_account", headers=org.headers())
    assert audit.status_code == 200
    for secret in ("sk_test_abcdefghijklmnop", "whsec_0123456789abcdef"):
        assert secret not in audit.text
    with db(write=False, organization_id=org.id) as session:
        row = session.scalar(select(PaymentAccount))
        assert "sk_test" not in row.credentials
        assert secrets.unseal(row.credentials)["secret_key"] == BODY["secret_key"]
        creds = accounts.credentials_for(session, "stripe")
    assert creds is not None and creds.webhook_secret == BODY["webhook_secret"]


def test_replacing_and_deleting_an_account(client, db, org):
    headers = org.headers()
    assert (
        client.put("/api/v1/payment-accounts/razorpay", json=BODY, headers=headers).status_code
        == 200
    )
    new = {**BODY, "secret_key": "another-secret-key", "active": False}
    assert (
        client.put("/api/v1/payment-accounts/razorpay", json=new, headers=headers).json()["active"]
        is False
    )
    with db(write=False, organization_id=org.id) as session:
        assert accounts.org_credentials(session, "razorpay") is None  # inactive
    assert client.delete("/api/v1/payment-accounts/razorpay", headers=headers).status_code == 204
    assert client.delete("/api/v1/payment-accounts/razorpay", headers=headers).status_code == 404


@pytest.mark.parametrize("role", ["manager", "staff", "accountant", "guide"])
def test_only_owners_and_admins_manage_accounts(client, org, role):
    r = client.put("/api/v1/payment-accounts/stripe", json=BODY, headers=org.headers(role))
    assert r.status_code == 403


def test_bad_input_is_422(client, org):
    headers = org.headers()
    assert (
        client.put("/api/v1/payment-accounts/paypal", json=BODY, headers=headers).status_code == 422
    )
    assert client.put("/api/v1/payment-accounts/stripe", json={"secret_key": "x"},
                      headers=headers).status_code == 422  # fmt: skip


def test_another_organization_does_not_see_the_account(client, db, org, other_org):
    client.put("/api/v1/payment-accounts/stripe", json=BODY, headers=org.headers())
    assert client.get("/api/v1/payment-accounts", headers=other_org.headers()).json() == []
    with db(write=False, organization_id=other_org.id) as session:
        assert accounts.org_credentials(session, "stripe") is None
