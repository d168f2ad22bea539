"""Messages to customers: queue once, deliver at least once, record the fate.

`queue` renders a message for each channel that applies and logs it as a Communication under
`<dedupe_key>:<channel>` — a second call with the same key finds the first row and sends nothing
("logged once") — and hands each new row to the outbox ("messaging.deliver"). `deliver` sends
it through the organization's e-mail or SMS sender. The body is rendered at queue time and
stored, so every attempt sends the same words, and the communication's id is the e-mail's
Message-ID on every attempt.

`extra`, what the caller knows beyond the booking (amounts in minor units of the booking's
currency unless `currency` says otherwise):
  amount                  -> {{ amount }}; also {{ payment.amount }} on a payment receipt and
                             {{ refund.amount }} on a refund
  payment_amount, method  -> {{ payment.amount }}, {{ payment.method }}
  refund_amount           -> {{ refund.amount }} (e.g. the refund a cancellation starts)
  reason                  -> {{ reason }}, {{ refund.reason }}
  changes, difference     -> {{ changes }} (in words), {{ difference }} (a signed amount)
  schedule_cancelled / departure_cancelled -> {{ schedule_cancelled }} (the operator cancelled
                             the whole departure)
  and the whole dict as {{ extra }}.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.models import Booking
from tos.catalog.models import Tour
from tos.config import get_settings
from tos.core.clock import utcnow
from tos.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tos.crm.models import Customer
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.upsert import adopt, insert_if_absent
from tos.documents.models import Document
from tos.identity.actors import Actor
from tos.identity.models import Organization
from tos.inventory.models import Schedule
from tos.messaging import email, render, sms, templates
from tos.messaging.models import CHANNELS, MESSAGE_KINDS, Communication, MessageTemplate
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import secrets
from tos.payments.queries import ledger_totals

log = logging.getLogger("tos.messaging")

DELIVER = "messaging.deliver"
FINAL = ("sent", "delivered", "failed")


# --- queueing --------------------------------------------------------------------------------


def queue(
    session: Session,
    booking_id: str,
    kind: str,
    *,
    dedupe_key: str,
    attachments: list[str] | None = None,
    extra: dict | None = None,
    channels: tuple[str, ...] = ("email", "sms"),
) -> list[Communication]:
    """One Communication per channel that applies (e-mail when the customer has an address; SMS
    for confirmations, reminders and cancellations when they have a phone), each logged once per
    `dedupe_key`. Existing rows are returned unchanged. `attachments` are document ids (e-mail
    only). Runs in the caller's transaction; the sends happen after it commits."""
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if unknown := [c for c in channels if c not in CHANNELS]:
        raise ValueError(f"unknown channels {unknown}")
    booking = session.scalar(select(Booking).where(Booking.id == booking_id))
    if booking is None:
        raise NotFound("booking", booking_id)
    customer = session.scalar(select(Customer).where(Customer.id == booking.customer_id))
    assert customer is not None  # a booking's customer is RESTRICTed from deletion
    out: list[Communication] = []
    contexts: dict[str, dict[str, Any]] = {}  # by language: built once, used by both channels
    for channel in dict.fromkeys(channels):
        key = f"{dedupe_key}:{channel}"
        existing = _by_dedupe_key(session, key)
        if existing is not None:
            out.append(existing)
            continue
        recipient = customer.email if channel == "email" else customer.phone
        if not templates.applies(kind, channel) or not recipient:
            continue
        docs = list(attachments or []) if channel == "email" else []
        template = templates.resolve(session, kind, channel, customer.preferred_language)
        rendered, template = _render(session, booking, customer, template, extra, docs, contexts)
        comm = _log_once(session, booking, customer, template, rendered, channel,
                         recipient=recipient, key=key, attachments=docs, extra=extra)  # fmt: skip
        out.append(comm)
    return out


def _by_dedupe_key(session: Session, key: str) -> Communication | None:
    return session.scalar(select(Communication).where(Communication.dedupe_key == key))


def _render(
    session: Session,
    booking: Booking,
    customer: Customer,
    template: templates.Template,
    extra: dict | None,
    docs: list[str],
    contexts: dict[str, dict[str, Any]],
) -> tuple[render.Rendered, templates.Template]:
    def context_for(language: str) -> dict[str, Any]:
        if language not in contexts:
            contexts[language] = build_context(
                session, booking, customer, language, extra, kind=template.kind
            )
        return {**contexts[language], "documents": _document_types(session, docs)}

    try:
        return _render_with(template, context_for(template.language)), template
    except render.RenderError as exc:
        if template.default:
            raise
        # An override that was valid when saved can still fail on a real booking (a value the
        # sample had and this booking lacks): the customer gets TOS's text, not nothing.
        log.warning("message template %s failed (%s); using the shipped default", template.id, exc)
        shipped = templates.fallback(template.kind, template.channel, template.language)
        return _render_with(shipped, context_for(shipped.language)), shipped


def _render_with(template: templates.Template, context: dict[str, Any]) -> render.Rendered:
    out = render.render(template.subject, template.body_text, template.body_html, context)
    if template.channel == "sms":
        return render.Rendered(None, " ".join(out.text.split())[: render.SMS_MAX], None)
    return out


def _document_types(session: Session, ids: list[str]) -> list[str]:
    if not ids:
        return []
    rows = session.execute(select(Document.id, Document.type).where(Document.id.in_(ids)))
    types = {doc_id: type_ for doc_id, type_ in rows}
    return [types[i] for i in ids if i in types]


def _log_once(
    session: Session,
    booking: Booking,
    customer: Customer,
    template: templates.Template,
    rendered: render.Rendered,
    channel: str,
    *,
    recipient: str,
    key: str,
    attachments: list[str],
    extra: dict | None,
) -> Communication:
    values: dict[str, Any] = {
        "id": new_id(), "organization_id": booking.organization_id, "booking_id": booking.id,
        "customer_id": customer.id, "kind": template.kind, "channel": channel,
        "language": template.language, "recipient": recipient, "subject": rendered.subject,
        "body_text": rendered.text, "status": "queued", "provider": None, "provider_id": None,
        "failure_reason": None, "attempts": 0, "attachments": attachments,
        "dedupe_key": key, "created_at": utcnow(), "sent_at": None,
        "meta": {"body_html": rendered.html, "template_id": template.id,
                 "template": "default" if template.default else "override",
                 "extra": _jsonable(extra or {})},
    }  # fmt: skip
    row = {("metadata" if k == "meta" else k): v for k, v in values.items()}
    # ON CONFLICT DO NOTHING: two concurrent queuers of one message make one row; the loser
    # reads the winner's (on PostgreSQL the insert waits for the winner's commit first).
    if not insert_if_absent(
        session, Communication, row, conflict=["organization_id", "dedupe_key"]
    ):
        winner = _by_dedupe_key(session, key)
        assert winner is not None
        return winner
    comm = Communication(**values)
    adopt(session, comm)
    outbox.enqueue(session, DELIVER, {"communication_id": comm.id})
    return comm


def _jsonable(value: dict) -> dict:
    return json.loads(json.dumps(value, default=str))


def build_context(
    session: Session,
    booking: Booking,
    customer: Customer,
    language: str,
    extra: dict | None,
    *,
    kind: str = "",
) -> dict[str, Any]:
    """What a template can read (render.sample_context shows every key). Money is formatted in
    the booking's currency for `language`; the departure is in the tour's own timezone."""
    extra = dict(extra or {})
    org = session.get(Organization, booking.organization_id)

    def money(minor: Any, currency: str | None = None) -> str | None:
        if isinstance(minor, bool) or not isinstance(minor, int):
            return None
        return render.format_money(minor, currency or booking.currency, language)

    totals = ledger_totals(session, booking.id)
    schedule = (
        session.scalar(select(Schedule).where(Schedule.id == booking.schedule_id))
        if booking.schedule_id else None
    )  # fmt: skip
    tour_id = booking.tour_id or (schedule.tour_id if schedule else None)
    tour = session.scalar(select(Tour).where(Tour.id == tour_id)) if tour_id else None
    departure = None
    if schedule is not None:
        zone = ZoneInfo(schedule.timezone)
        start, end = schedule.starts_at.astimezone(zone), schedule.ends_at.astimezone(zone)
        departure = {"date": render.format_date(start.date(), language),
                     "time": render.format_time(start.time()),
                     "end_time": render.format_time(end.time()),
                     "timezone": schedule.timezone, "iso": start.isoformat()}  # fmt: skip
    point = tour.meeting_point if tour is not None else None
    meeting_point = None
    if point:
        meeting_point = {k: point.get(k) for k in ("name", "address", "instructions")}
    balance = max(booking.total - totals.net, 0)
    amount = extra.get("amount")
    payment_amount = extra.get("payment_amount", amount if kind == "payment_receipt" else None)
    refund_amount = extra.get("refund_amount", amount if kind == "refund" else None)
    difference = extra.get("difference")
    currency = extra.get("currency") if isinstance(extra.get("currency"), str) else None
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    return {
        "language": language,
        "organization": {"name": org.name if org else "", "slug": org.slug if org else ""},
        "customer": {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "name": name or customer.email,
            "email": customer.email,
            "phone": customer.phone,
        },
        "booking": {
            "id": booking.id,
            "reference": booking.reference,
            "status": booking.status,
            "currency": booking.currency,
            "participants": booking.participants_count,
            "total": money(booking.total),
            "subtotal": money(booking.subtotal),
            "tax_total": money(booking.tax_total),
            "discount_total": money(booking.discount_total),
            "paid": money(totals.paid_in),
            "refunded": money(totals.refunded),
            "balance_due": money(balance) if balance else None,
            "cancel_reason": booking.cancel_reason,
        },
        "tour": {"name": tour.name, "duration_minutes": tour.duration_minutes} if tour else None,
        "departure": departure,
        "meeting_point": meeting_point,
        "amount": money(amount, currency),
        "payment": {"amount": money(payment_amount, currency), "method": extra.get("method")},
        "refund": {"amount": money(refund_amount, currency), "reason": extra.get("reason")},
        "reason": extra.get("reason"),
        "changes": extra.get("changes"),
        "difference": (("+" if difference > 0 else "") + (money(difference, currency) or ""))
        if isinstance(difference, int) and not isinstance(difference, bool) and difference
        else None,
        "schedule_cancelled": bool(
            extra.get("schedule_cancelled") or extra.get("departure_cancelled")
        ),
        "documents": [],
        "extra": _jsonable(extra),
    }


# --- delivering ------------------------------------------------------------------------------


def deliver(session: Session, message: OutboxMessage) -> None:
    """Outbox handler "messaging.deliver" {communication_id}. Idempotent: a message already sent
    or failed is left alone. A permanent failure is recorded and not retried; anything else
    raises, and the outbox retries with backoff — the same communication, the same Message-ID."""
    comm = session.scalar(
        select(Communication).where(Communication.id == message.payload["communication_id"])
    )
    if comm is None or comm.status in FINAL:
        return
    org = session.get(Organization, comm.organization_id)
    assert org is not None
    comm.attempts = message.attempts + 1  # a failed attempt rolls back; the outbox counts them
    try:
        if comm.channel == "email":
            provider, provider_id = _send_email(session, comm, org)
        else:
            provider, provider_id = _send_sms(comm, org)
    except email.PermanentFailure as exc:
        comm.status, comm.failure_reason = "failed", exc.reason
        log.info("communication %s failed permanently: %s", comm.id, exc.reason)
        return
    comm.status, comm.provider, comm.provider_id = "sent", provider, provider_id
    comm.sent_at, comm.failure_reason = utcnow(), None
    log.info("communication %s (%s %s) sent via %s", comm.id, comm.kind, comm.channel, provider)


def _send_email(session: Session, comm: Communication, org: Organization) -> tuple[str, str]:
    sender = email.sender_for(org.settings)
    mail = email.OutgoingEmail(
        communication_id=comm.id, to=comm.recipient, subject=comm.subject or "",
        text=comm.body_text, html=(comm.meta or {}).get("body_html"), from_name=org.name,
        date=comm.created_at, attachments=_attachments(session, comm),
    )  # fmt: skip
    return sender.name, sender.send(mail)


def _send_sms(comm: Communication, org: Organization) -> tuple[str, str]:
    sender = sms.sender_for(org.settings)
    callback = status_callback_url(org.slug) if sender.name == "twilio" else None
    sid = sender.send(comm.recipient, comm.body_text, status_callback=callback, reference=comm.id)
    return sender.name, sid


def status_callback_url(org_slug: str) -> str:
    base = get_settings().public_url.rstrip("/")
    return f"{base}/api/v1/messaging/twilio/status?org={quote(org_slug, safe='')}"


def read_document(document: Document) -> bytes:
    # Imported here: the documents module (storage, rendering) is built alongside messaging.
    from tos.documents.service import read

    return read(document)


def _attachments(session: Session, comm: Communication) -> list[email.Attachment]:
    ids = list(comm.attachments or [])
    if not ids:
        return []
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    if missing := [i for i in ids if i not in docs]:
        # Retried, then parked where staff see it: a confirmation without its voucher is worse
        # than a late one.
        raise LookupError(f"attachments not found: {missing}")
    reference = session.scalar(select(Booking.reference).where(Booking.id == comm.booking_id))
    out = []
    for doc_id in ids:
        doc = docs[doc_id]
        ext = "pdf" if doc.content_type == "application/pdf" else "bin"
        name = f"{doc.type}-{doc.number or reference or doc.id}.{ext}"
        out.append(email.Attachment(name, doc.content_type, read_document(doc)))
    return out


# --- delivery reports ------------------------------------------------------------------------

TWILIO_FINAL = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def receive_twilio_status(
    session: Session,
    org_slug: str | None,
    urls: list[str],
    params: list[tuple[str, str]],
    given_signature: str,
) -> str:
    """Twilio's status callback. `session` is unscoped: the organization comes from ?org=
    (without it, the install-wide account). Returns what happened, for the log and the reply."""
    if org_slug is not None:
        org = session.scalar(select(Organization).where(Organization.slug == org_slug))
        if org is None:
            raise NotFound("organization", org_slug)
        account = sms.account_for(org.settings)
    else:
        org, account = None, sms.install_twilio()
    token = (account or {}).get("auth_token", "")
    if not sms.valid_signature(urls, params, token, given_signature):
        raise Forbidden("invalid X-Twilio-Signature")
    fields = dict(params)
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    stmt = select(Communication).where(
        Communication.provider == "twilio", Communication.provider_id == sid
    )
    if org is not None:
        stmt = stmt.where(Communication.organization_id == org.id)
    with tenancy.unscoped(session):
        comm = session.scalar(stmt)
    if comm is None:
        return "ignored"
    tenancy.set_scope(session, comm.organization_id)
    target = TWILIO_FINAL.get(status)
    # Only forward from "sent": reports arrive out of order, and a final state stays final.
    if target is None or comm.status != "sent":
        return "unchanged"
    comm.status = target
    if target == "failed":
        code, text = fields.get("ErrorCode", ""), fields.get("ErrorMessage", "")
        comm.failure_reason = (f"twilio error {code}".strip() + (f": {text}" if text else ""))[:500]
    return target


# --- templates -------------------------------------------------------------------------------


def list_templates(
    session: Session, *, kind: str | None = None, channel: str | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The organization's overrides, then TOS's shipped defaults (`default: true`, and
    `overridden` when an override of the same kind, channel and language exists)."""
    stmt = select(MessageTemplate)
    if kind:
        stmt = stmt.where(MessageTemplate.kind == kind)
    if channel:
        stmt = stmt.where(MessageTemplate.channel == channel)
    if language:
        stmt = stmt.where(MessageTemplate.language == language)
    rows = session.scalars(
        stmt.order_by(MessageTemplate.kind, MessageTemplate.channel, MessageTemplate.language)
    ).all()
    overridden = {(r.kind, r.channel, r.language) for r in rows}
    out = [template_out(r) for r in rows]
    for key, tpl in sorted(templates.shipped().items()):
        if (
            (kind or key[0]) == key[0]
            and (channel or key[1]) == key[1]
            and (language or key[2]) == key[2]
        ):
            out.append(default_out(tpl, overridden=key in overridden))
    return out


def template_out(row: MessageTemplate) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "channel": row.channel, "language": row.language,
            "subject": row.subject, "body_text": row.body_text, "body_html": row.body_html,
            "default": False, "overridden": False, "created_at": row.created_at,
            "updated_at": row.updated_at}  # fmt: skip


def default_out(tpl: templates.Template, *, overridden: bool) -> dict[str, Any]:
    return {"id": None, "kind": tpl.kind, "channel": tpl.channel, "language": tpl.language,
            "subject": tpl.subject, "body_text": tpl.body_text, "body_html": tpl.body_html,
            "default": True, "overridden": overridden, "created_at": None,
            "updated_at": None}  # fmt: skip


def get_template(session: Session, template_id: str) -> MessageTemplate:
    row = session.scalar(select(MessageTemplate).where(MessageTemplate.id == template_id))
    if row is None:
        raise NotFound("message template", template_id)
    return row


def check_template(
    kind: str, channel: str, language: str, subject: str | None, body_text: str,
    body_html: str | None,
) -> None:  # fmt: skip
    """422 unless the template fits its channel and compiles and renders against the sample
    context (render.sample_context), with the Jinja error's line."""
    try:
        templates.check_kind_channel(kind, channel)
    except ValueError as exc:
        raise ValidationFailed(str(exc), path=["kind" if "kind" in str(exc) else "channel"])
    if not templates.applies(kind, channel):
        raise ValidationFailed(f"SMS is sent only for {', '.join(templates.SMS_KINDS)}",
                               path=["channel"])  # fmt: skip
    if channel == "sms":
        for field, value in (("subject", subject), ("body_html", body_html)):
            if value:
                raise ValidationFailed("an SMS template has only body_text", path=[field])
    elif not (subject or "").strip():
        raise ValidationFailed("an e-mail template needs a subject", path=["subject"])
    if not body_text.strip():
        raise ValidationFailed("body_text cannot be empty", path=["body_text"])
    try:
        render.render(subject, body_text, body_html, render.sample_context(language))
    except render.RenderError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ValidationFailed(f"{where}{exc.message}", path=[exc.part],
                               details={"part": exc.part, "line": exc.line}) from None  # fmt: skip


def create_template(session: Session, actor: Actor, fields: dict[str, Any]) -> MessageTemplate:
    check_template(fields["kind"], fields["channel"], fields["language"], fields.get("subject"),
                   fields["body_text"], fields.get("body_html"))  # fmt: skip
    existing = session.scalar(
        select(MessageTemplate.id).where(
            MessageTemplate.kind == fields["kind"],
            MessageTemplate.channel == fields["channel"],
            MessageTemplate.language == fields["language"],
        )
    )
    if existing is not None:
        raise Conflict("this organization already overrides that template; PATCH it",
                       details={"id": existing})  # fmt: skip
    row = MessageTemplate(**fields)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # a concurrent create of the same override
        raise Conflict("this organization already overrides that template") from None
    record(session, actor, "message_template.created", row)
    return row


def update_template(
    session: Session, actor: Actor, template_id: str, changes: dict[str, Any]
) -> MessageTemplate:
    row = get_template(session, template_id)
    merged = {k: changes.get(k, getattr(row, k)) for k in ("subject", "body_text", "body_html")}
    check_template(row.kind, row.channel, row.language, **merged)
    if all(getattr(row, k) == v for k, v in merged.items()):
        return row
    before = snapshot(row)
    for key, value in merged.items():
        setattr(row, key, value)
    session.flush()
    record(session, actor, "message_template.updated", row, before=before)
    return row


def delete_template(session: Session, actor: Actor, template_id: str) -> None:
    row = get_template(session, template_id)
    record(session, actor, "message_template.deleted", row, before=snapshot(row), after=None)
    session.delete(row)
    session.flush()


# --- provider settings -----------------------------------------------------------------------
# Kept in Organization.settings["smtp"] / ["sms"]; the secret sealed (tos.payments.secrets),
# never answered, never audited.


def _locked_org(session: Session, org_id: str) -> Organization:
    # Locked: settings is one JSON value, shared with other modules' keys.
    org = session.scalar(select(Organization).where(Organization.id == org_id).with_for_update())
    if org is None:
        raise NotFound("organization", org_id)
    return org


def smtp_view(settings: dict[str, Any] | None) -> dict[str, Any]:
    cfg = (settings or {}).get("smtp")
    if cfg:
        shown = {k: cfg.get(k) for k in ("host", "port", "username", "from_address", "starttls",
                                          "use_tls")}  # fmt: skip
        return {"source": "organization", **shown, "password_set": bool(cfg.get("password_sealed"))}
    source = "install" if email.install_smtp() else "file"
    return {"source": source, "host": None, "port": None, "username": None, "from_address": None,
            "starttls": None, "use_tls": None, "password_set": False}  # fmt: skip


def set_smtp(session: Session, actor: Actor, org_id: str, values: dict[str, Any]) -> dict:
    """Store the organization's SMTP server. A password left out keeps the stored one."""
    org = _locked_org(session, org_id)
    settings = dict(org.settings or {})
    before = smtp_view(settings)
    cfg = {k: values[k] for k in ("host", "port", "username", "from_address", "starttls",
                                  "use_tls")}  # fmt: skip
    password = values.get("password")
    previous = (settings.get("smtp") or {}).get("password_sealed")
    if password is not None:
        cfg["password_sealed"] = secrets.seal({"password": password}) if password else None
    else:
        cfg["password_sealed"] = previous
    settings["smtp"] = cfg
    org.settings = settings  # a new dict, so the JSON column is seen as changed
    view = smtp_view(settings)
    record(session, actor, "messaging.smtp_updated", org, before=before, after=view,
           entity_type="organization")  # fmt: skip
    return view


def clear_smtp(session: Session, actor: Actor, org_id: str) -> None:
    org = _locked_org(session, org_id)
    settings = dict(org.settings or {})
    if settings.pop("smtp", None) is None:
        raise NotFound("SMTP settings")
    org.settings = settings
    record(session, actor, "messaging.smtp_deleted", org, before={"smtp": "set"}, after=None,
           entity_type="organization")  # fmt: skip


def sms_view(settings: dict[str, Any] | None, org_slug: str) -> dict[str, Any]:
    cfg = (settings or {}).get("sms")
    callback = status_callback_url(org_slug)
    if cfg:
        return {"source": "organization", "account_sid": cfg.get("account_sid"),
                "from_number": cfg.get("from_number"), "api_base": cfg.get("api_base"),
                "auth_token_set": bool(cfg.get("auth_token_sealed")),
                "status_callback_url": callback}  # fmt: skip
    source = "install" if sms.install_twilio() else "file"
    return {"source": source, "account_sid": None, "from_number": None, "api_base": None,
            "auth_token_set": False, "status_callback_url": callback}  # fmt: skip


def set_sms(session: Session, actor: Actor, org_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Store the organization's Twilio account. A token left out keeps the stored one (the
    account sid must then be unchanged: a token belongs to its account)."""
    org = _locked_org(session, org_id)
    settings = dict(org.settings or {})
    before = sms_view(settings, org.slug)
    previous = settings.get("sms") or {}
    token = values.get("auth_token")
    if token is None:
        if previous.get("account_sid") != values["account_sid"] or not previous.get(
            "auth_token_sealed"
        ):
            raise ValidationFailed("auth_token is required for a new account", path=["auth_token"])
        sealed = previous["auth_token_sealed"]
    else:
        sealed = secrets.seal({"auth_token": token})
    settings["sms"] = {"account_sid": values["account_sid"], "from_number": values["from_number"],
                       "api_base": values.get("api_base"), "auth_token_sealed": sealed}  # fmt: skip
    org.settings = settings
    view = sms_view(settings, org.slug)
    record(session, actor, "messaging.sms_updated", org, before=before, after=view,
           entity_type="organization")  # fmt: skip
    return view


def clear_sms(session: Session, actor: Actor, org_id: str) -> None:
    org = _locked_org(session, org_id)
    settings = dict(org.settings or {})
    if settings.pop("sms", None) is None:
        raise NotFound("SMS settings")
    org.settings = settings
    record(session, actor, "messaging.sms_deleted", org, before={"sms": "set"}, after=None,
           entity_type="organization")  # fmt: skip


# --- reading the log -------------------------------------------------------------------------


def communication_out(comm: Communication) -> dict[str, Any]:
    return {
        "id": comm.id, "booking_id": comm.booking_id, "customer_id": comm.customer_id,
        "kind": comm.kind, "channel": comm.channel, "language": comm.language,
        "recipient": comm.recipient, "subject": comm.subject, "body_text": comm.body_text,
        "status": comm.status, "provider": comm.provider, "provider_id": comm.provider_id,
        "message_id": email.message_id(comm.id) if comm.channel == "email" else None,
        "failure_reason": comm.failure_reason, "attempts": comm.attempts,
        "attachments": comm.attachments or [], "dedupe_key": comm.dedupe_key,
        "created_at": comm.created_at, "sent_at": comm.sent_at,
    }  # fmt: skip
