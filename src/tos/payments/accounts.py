"""Which account a payment goes through: the organization's own (PaymentAccount, encrypted),
else the install-wide one from TOS_* settings. And which adapter speaks to each provider."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.config import get_settings
from tos.payments import secrets
from tos.payments.models import PaymentAccount
from tos.payments.providers.base import Credentials, Provider

PROVIDERS = ("stripe", "razorpay", "sandbox")


def adapter(name: str) -> Provider:
    if name == "stripe":
        from tos.payments.providers.stripe import provider as stripe

        return stripe
    if name == "razorpay":
        from tos.payments.providers.razorpay import provider as razorpay

        return razorpay
    if name == "sandbox":
        from tos.payments.providers.sandbox import provider as sandbox

        return sandbox
    raise KeyError(name)


def install_credentials(provider: str) -> Credentials | None:
    s = get_settings()
    if provider == "stripe" and s.stripe_secret_key:
        return Credentials(s.stripe_secret_key, s.stripe_publishable_key,
                           s.stripe_webhook_secret, s.stripe_api_base)  # fmt: skip
    if provider == "razorpay" and s.razorpay_key_id and s.razorpay_key_secret:
        return Credentials(s.razorpay_key_secret, s.razorpay_key_id,
                           s.razorpay_webhook_secret, s.razorpay_api_base)  # fmt: skip
    if provider == "sandbox":
        return Credentials(webhook_secret=sandbox_secret(), api_base=s.public_url)
    return None


def sandbox_secret() -> str:
    """The sandbox's webhook secret: configured, or derived from the install's secret key (the
    sandbox runs inside TOS, so sender and receiver share it)."""
    s = get_settings()
    if s.sandbox_webhook_secret:
        return s.sandbox_webhook_secret
    return hashlib.sha256(b"tos-sandbox-webhooks:" + s.secret_key.encode()).hexdigest()


def org_credentials(session: Session, provider: str) -> Credentials | None:
    """The current organization's own active account for `provider`, if it has one."""
    account = session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.provider == provider, PaymentAccount.active.is_(True)
        )
    )
    if account is None:
        return None
    values: dict[str, Any] = secrets.unseal(account.credentials)
    return Credentials(
        secret_key=values.get("secret_key", ""),
        key_id=values.get("key_id", ""),
        webhook_secret=values.get("webhook_secret", ""),
        api_base=values.get("api_base", ""),
    )


def credentials_for(session: Session, provider: str) -> Credentials | None:
    """The current organization's account, else the install-wide one; None = not configured."""
    if provider == "sandbox":
        return install_credentials(provider)
    return org_credentials(session, provider) or install_credentials(provider)
