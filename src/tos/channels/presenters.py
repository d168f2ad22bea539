"""Channel records as their API shapes."""

from __future__ import annotations

from tos.channels.models import Website
from tos.channels.website_schemas import WebsiteOut


def website_out(w: Website) -> WebsiteOut:
    return WebsiteOut(
        id=w.slug, uuid=w.id, name=w.name, domain=w.domain, api_key_prefix=w.key_prefix,
        webhook_url=w.webhook_url, has_webhook_secret=bool(w.webhook_secret_sealed),
        logo_url=w.logo_url, is_active=w.active and w.deleted_at is None,
        messages_customers=w.messages_customers,
        previous_key_expires_at=w.previous_key_expires_at, created_at=w.created_at,
        updated_at=w.updated_at,
    )  # fmt: skip
