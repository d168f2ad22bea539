"""Websites: registration, API keys (SHA-256 at rest, shown once, rotation with a grace period),
sealed webhook secrets, package mappings, and the key lookup every sync request starts with."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.audit import changes
from tos.audit.service import record, snapshot
from tos.channels.models import PackageMapping, Website
from tos.core.clock import utcnow
from tos.core.errors import AppError, Conflict, NotFound, Unauthenticated, ValidationFailed
from tos.db import tenancy
from tos.identity.actors import Actor
from tos.payments import secrets as sealed

KEY_PREFIX = "obk_"
DEFAULT_GRACE_HOURS = 24


class WebsiteExists(Conflict):
    code = "WEBSITE_EXISTS"
    message = "A website with this id is already registered"


class WebsiteNotFound(AppError):
    status_code = 404
    code = "WEBSITE_NOT_FOUND"
    message = "Website not registered"


def new_api_key(slug: str) -> str:
    return f"{KEY_PREFIX}{slug[:8]}_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def seal_secret(secret: str) -> str:
    return sealed.seal({"webhook_secret": secret})


def webhook_secret_of(website: Website) -> str | None:
    if not website.webhook_secret_sealed:
        return None
    return sealed.unseal(website.webhook_secret_sealed)["webhook_secret"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What registration and rotation show once."""

    website: Website
    api_key: str
    webhook_secret: str | None


def register(
    session: Session, actor: Actor, *, slug: str, name: str, domain: str,
    webhook_url: str | None = None, webhook_secret: str | None = None,
    logo_url: str | None = None, active: bool = True, messages_customers: bool = False,
) -> Credentials:  # fmt: skip
    if session.scalar(select(Website.id).where(Website.slug == slug)) is not None:
        raise WebsiteExists(details={"id": slug})
    key = new_api_key(slug)
    secret = webhook_secret or new_webhook_secret()
    website = Website(
        organization_id=actor.organization_id, slug=slug, name=name, domain=domain,
        key_prefix=key[:12], key_hash=hash_key(key), webhook_url=webhook_url,
        webhook_secret_sealed=seal_secret(secret), logo_url=logo_url, active=active,
        messages_customers=messages_customers,
    )  # fmt: skip
    changes.add(session, actor, website, entity="website")
    return Credentials(website, key, secret if webhook_secret is None else None)


def get(session: Session, ref: str, *, include_deleted: bool = False) -> Website:
    """A website of the current organization by its id or its slug (seed 002's text id)."""
    stmt = select(Website).where(or_(Website.id == ref, Website.slug == ref))
    if not include_deleted:
        stmt = stmt.where(Website.deleted_at.is_(None))
    website = session.scalar(stmt)
    if website is None:
        raise NotFound("website", ref)
    return website


def website_ref_to_id(session: Session, ref: str) -> str:
    """A filter's website (id or slug, deleted ones too) as its id; unknown ones match nothing."""
    found = session.scalar(select(Website.id).where(or_(Website.id == ref, Website.slug == ref)))
    return found or ref


def rotate_key(
    session: Session, actor: Actor, website: Website, *, grace_hours: int = DEFAULT_GRACE_HOURS
) -> Credentials:
    """A new key; the current one keeps working for `grace_hours` (0 = revoked at once)."""
    before = snapshot(website)
    key = new_api_key(website.slug)
    website.previous_key_hash = website.key_hash if grace_hours > 0 else None
    website.previous_key_expires_at = (
        utcnow() + dt.timedelta(hours=grace_hours) if grace_hours > 0 else None
    )
    website.key_hash, website.key_prefix = hash_key(key), key[:12]
    record(session, actor, "website.key_rotated", website, before=before)
    return Credentials(website, key, None)


def rotate_secret(session: Session, actor: Actor, website: Website) -> Credentials:
    before = snapshot(website)
    secret = new_webhook_secret()
    website.webhook_secret_sealed = seal_secret(secret)
    record(session, actor, "website.secret_rotated", website, before=before)
    return Credentials(website, "", secret)


def deactivate(session: Session, actor: Actor, website: Website, *, delete: bool) -> Website:
    before = snapshot(website)
    website.active = False
    if delete:
        website.deleted_at = utcnow()
    record(session, actor, "website.deleted" if delete else "website.deactivated", website,
           before=before)  # fmt: skip
    return website


def authenticate(session: Session, key: str | None) -> Website:
    """The website behind an `X-API-Key`: AUTH_FAILED for a missing or unknown key,
    WEBSITE_NOT_FOUND for a key whose website is deactivated or deleted. The old key of a
    rotation works until its grace period ends."""
    if not key:
        raise Unauthenticated("Missing API key")
    digest = hash_key(key)
    now = utcnow()
    with tenancy.unscoped(session):
        website = session.scalar(select(Website).where(Website.key_hash == digest))
        if website is None:
            website = session.scalar(
                select(Website).where(
                    Website.previous_key_hash == digest, Website.previous_key_expires_at > now
                )
            )
            current = False
        else:
            current = True
    if website is None:
        raise Unauthenticated("Invalid API key")
    stored = website.key_hash if current else website.previous_key_hash
    if not hmac.compare_digest(stored or "", digest):
        raise Unauthenticated("Invalid API key")
    if not website.active or website.deleted_at is not None:
        raise WebsiteNotFound("this website is deactivated or deleted",
                              details={"website_id": website.slug})  # fmt: skip
    return website


def set_package_mapping(
    session: Session, actor: Actor, website: Website, *, package_name: str,
    variant_id: str, pricing_tier_id: str,
) -> PackageMapping:  # fmt: skip
    from tos.catalog.models import PricingTier, Variant

    tier = session.scalar(select(PricingTier).where(PricingTier.id == pricing_tier_id))
    variant = session.scalar(select(Variant).where(Variant.id == variant_id))
    if variant is None:
        raise ValidationFailed("no such variant", path=["variant_id"])
    if tier is None or tier.tour_id != variant.tour_id or tier.variant_id not in (None, variant.id):
        raise ValidationFailed("no such pricing tier of this variant", path=["pricing_tier_id"])
    mapping = session.scalar(
        select(PackageMapping).where(
            PackageMapping.website_id == website.id, PackageMapping.package_name == package_name
        )
    )
    fields = {"variant_id": variant_id, "pricing_tier_id": pricing_tier_id}
    if mapping is None:
        mapping = PackageMapping(organization_id=website.organization_id, website_id=website.id,
                                 package_name=package_name, **fields)  # fmt: skip
        return changes.add(session, actor, mapping, entity="website_package")
    return changes.apply(session, actor, mapping, fields, entity="website_package")
