"""onebooking_kit: the source-website side of seed 002 ("OneBooking Central"), in Python.

A source website (Hanuman World, Flying Hanuman, ...) pushes its bookings to the hub with
`POST /api/bookings/sync` and an `X-API-Key`, and receives the hub's edits back as signed
webhooks. This kit is the documented reference for that side; TOS's own tests use it to play a
source website. Only the standard library and httpx.

Pushing a booking after payment confirmation::

    from onebooking_kit import FailedSyncQueue, OneBookingClient, booking_payload, customer

    client = OneBookingClient.from_env(  # ONEBOOKING_API_URL, ONEBOOKING_API_KEY
        queue=FailedSyncQueue("var/onebooking-queue.sqlite3")
    )
    result = client.push(
        booking_payload(
            "booking.created", source_booking_id=str(booking.id), booking_ref="HW-000023",
            package_name="World A+", package_price=3490, activity_date="2026-03-01",
            time_slot="10:00", guest_count=2, total_amount=8500,
            customer=customer("John Doe", "john@example.com", phone="1234567890",
                              country_code="+66"),
        )
    )
    if result.ok:
        save(onebooking_id=result.booking_id)
    else:  # result.queued: every retry (1 s, 5 s, 30 s, 5 min) failed; it waits in the queue
        ...

`push` raises `SyncRejected` (with the seed's `code`: AUTH_FAILED, INVALID_PAYLOAD,
DUPLICATE_BOOKING, WEBSITE_NOT_FOUND) when the hub refuses the payload for good. A cron job
or a loop calls `client.retry_queued()` to send the queue again, oldest first.

Receiving the hub's edits::

    from onebooking_kit import InvalidSignature, parse_webhook

    try:
        event = parse_webhook(request.headers, raw_body, os.environ["ONEBOOKING_WEBHOOK_SECRET"])
    except InvalidSignature:
        return 401
    apply(event.source_booking_id, event.data)  # event.updated_fields, event.updated_by, ...

See docs/source-website-kit.md for the whole guide.
"""

from onebooking_kit.client import (
    EVENTS,
    RETRY_DELAYS,
    SYNC_PATH,
    OneBookingClient,
    OneBookingError,
    RetryReport,
    SyncRejected,
    SyncResult,
    SyncUnavailable,
    addon,
    booking_payload,
    customer,
    event_payload,
    transport,
)
from onebooking_kit.queue import FailedSyncQueue, QueuedSync
from onebooking_kit.webhooks import (
    DEFAULT_TOLERANCE_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    InvalidWebhookPayload,
    WebhookError,
    WebhookEvent,
    check_request,
    compute_signature,
    parse_webhook,
    sign_webhook,
    verify_request,
    verify_webhook_signature,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "EVENTS",
    "RETRY_DELAYS",
    "SIGNATURE_HEADER",
    "SYNC_PATH",
    "TIMESTAMP_HEADER",
    "FailedSyncQueue",
    "InvalidSignature",
    "InvalidWebhookPayload",
    "OneBookingClient",
    "OneBookingError",
    "QueuedSync",
    "RetryReport",
    "SyncRejected",
    "SyncResult",
    "SyncUnavailable",
    "WebhookError",
    "WebhookEvent",
    "addon",
    "booking_payload",
    "check_request",
    "compute_signature",
    "customer",
    "event_payload",
    "parse_webhook",
    "sign_webhook",
    "transport",
    "verify_request",
    "verify_webhook_signature",
]
