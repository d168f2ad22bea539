"""The tables that connect modules: routers, and which handlers react to which events."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.orm import Session

Handler = Callable[[Session, object], None]


def routers() -> list[APIRouter]:
    from tos.audit.api import router as audit
    from tos.bookings.api import router as bookings
    from tos.bookings.public_api import router as public_checkout
    from tos.bookings.seed_api import router as booking_lifecycle_seed
    from tos.catalog.api import router as catalog
    from tos.catalog.policy_api import router as policies
    from tos.catalog.public_api import router as public_catalog
    from tos.channels.admin_api import router as channel_admin
    from tos.channels.seed_api import router as channel_seed
    from tos.channels.sync_api import router as channel_sync
    from tos.channels.website_api import router as websites
    from tos.crm.api import router as customers
    from tos.documents.api import router as documents
    from tos.identity.api import router as identity
    from tos.identity.organization_api import router as organization
    from tos.inventory.api import router as inventory
    from tos.messaging.api import router as messaging
    from tos.octo.api import router as octo
    from tos.operations.api import router as operations
    from tos.operations.manifest_api import router as manifests
    from tos.outbox.api import router as outbox
    from tos.payments.account_api import router as payment_accounts
    from tos.payments.api import router as payments
    from tos.payments.intent_api import router as payment_intents
    from tos.payments.sandbox_api import router as sandbox_checkout
    from tos.payments.webhook_api import router as payment_webhooks
    from tos.pricing.api import router as pricing
    from tos.pricing.quote_api import router as quote

    return [identity, organization, audit, catalog, policies, pricing, quote, inventory, operations,
            manifests, bookings, customers, payments, payment_intents, payment_webhooks,
            payment_accounts, documents, messaging, outbox, booking_lifecycle_seed,
            public_catalog, public_checkout, sandbox_checkout, websites, channel_sync,
            channel_seed, channel_admin, octo]  # fmt: skip


def _handlers() -> dict[str, Handler]:
    from tos.automations import handlers as automations
    from tos.bookings import departure_cancellation
    from tos.bookings import handlers as bookings
    from tos.channels import outbound
    from tos.messaging import service as messaging
    from tos.payments import refunds, sandbox_sender, webhooks

    return {
        "bookings.expire_hold": bookings.expire_hold,
        "bookings.cancel_departure": departure_cancellation.cancel_departure_batch,
        "payments.process_webhook": webhooks.process_webhook,
        "payments.execute_refund": refunds.execute_refund,
        "payments.sandbox_send": sandbox_sender.send,
        "messaging.deliver": messaging.deliver,
        "automations.after_payment_confirmed": automations.after_payment_confirmed,
        "automations.payment_receipt": automations.payment_receipt,
        "automations.after_refund": automations.after_refund,
        "automations.cancellation_notice": automations.cancellation_notice,
        "automations.modification_notice": automations.modification_notice,
        "channels.on_status_changed": outbound.on_status_changed,
        "channels.on_fields_changed": outbound.on_fields_changed,
        "channels.deliver_webhook": outbound.deliver_webhook,
    }  # type: ignore[dict-item]


# event name -> handler names that react to it. Events with no handler yet write no outbox row;
# messaging, documents and integrator webhooks subscribe here in later issues.
EVENT_HANDLERS: dict[str, tuple[str, ...]] = {
    "booking.confirmed": ("automations.after_payment_confirmed",),
    "payment.received": ("automations.payment_receipt",),
    "refund.processed": ("automations.after_refund",),
    "booking.cancelled": ("automations.cancellation_notice",),
    "booking.modified": ("automations.modification_notice",),
    # Only bookings of a source website emit these (bookings.events, bookings.service).
    "sync.status_changed": ("channels.on_status_changed",),
    "sync.fields_changed": ("channels.on_fields_changed",),
}


def handlers_for(event: str) -> tuple[str, ...]:
    return EVENT_HANDLERS.get(event, ())


def handler(name: str) -> Handler:
    return _handlers()[name]


def periodic_jobs() -> dict[str, tuple[float, Callable[[], object]]]:
    """name -> (every how many seconds, job), run by the worker that runs the sweeper."""
    from tos.automations.periodic import complete_ended, send_due_reminders
    from tos.payments.reconcile import reconcile_due

    return {
        "payments.reconcile": (60.0, reconcile_due),
        "automations.reminders": (300.0, send_due_reminders),
        "automations.complete_ended": (900.0, complete_ended),
    }
