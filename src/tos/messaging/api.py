"""Messaging over HTTP: message templates (everyone on the staff reads them, owners and admins
write them), a booking's communication log, the organization's SMTP and SMS provider settings
(owners and admins; secrets go in and never come back), and Twilio's delivery-status callback
(unauthenticated, verified by its X-Twilio-Signature)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import status as http
from pydantic import AfterValidator, BaseModel, Field, HttpUrl, field_validator
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from tos.bookings.access import visible_booking
from tos.catalog.fields import InModel, Language, not_null
from tos.config import get_settings
from tos.core.errors import ValidationFailed
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.db.session import get_session_factory
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.messaging import email, service, sms
from tos.messaging.models import MESSAGE_KINDS, Communication

router = APIRouter(tags=["messaging"])

Read = Annotated[Context, Depends(require(Perm.CATALOG_READ))]
Write = Annotated[Context, Depends(require(Perm.CATALOG_WRITE))]
Providers = Annotated[Context, Depends(require(Perm.CHANNELS_MANAGE))]
Bookings = Annotated[Context, Depends(require(Perm.BOOKINGS_READ))]
Params = Annotated[PageParams, Depends(page_params)]

Kind = Literal[MESSAGE_KINDS]  # type: ignore[valid-type]
Channel = Literal["email", "sms"]
Subject = Annotated[str, Field(max_length=300)]
BodyText = Annotated[str, Field(min_length=1, max_length=20_000)]
BodyHtml = Annotated[str, Field(max_length=200_000)]


# --- templates ----------------------------------------------------------------------------


class TemplateIn(InModel):
    kind: Kind
    channel: Channel
    language: Language = Field(description="ISO 639-1; the override is used for this language")
    subject: Subject | None = Field(None, description="e-mail only; a Jinja template")
    body_text: BodyText
    body_html: BodyHtml | None = Field(None, description="e-mail only; autoescaped")


class TemplatePatch(InModel):
    subject: Subject | None = None
    body_text: BodyText | None = None
    body_html: BodyHtml | None = None

    _not_null = field_validator("body_text")(not_null)


class TemplateOut(BaseModel):
    id: str | None = Field(description="null for TOS's shipped defaults")
    kind: str
    channel: str
    language: str
    subject: str | None
    body_text: str
    body_html: str | None
    default: bool = Field(description="shipped with TOS (read-only); override it with a POST")
    overridden: bool = Field(description="a default this organization overrides")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class TemplateList(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None
    total_count: int


@router.get("/api/v1/message-templates", response_model=TemplateList)
def list_templates(
    ctx: Read,
    kind: Kind | None = None,
    channel: Channel | None = None,
    language: str | None = Query(None, max_length=8),
):
    items = service.list_templates(ctx.session, kind=kind, channel=channel, language=language)
    return {"items": items, "next_cursor": None, "total_count": len(items)}


@router.post(
    "/api/v1/message-templates", response_model=TemplateOut, status_code=http.HTTP_201_CREATED
)
def create_template(body: TemplateIn, ctx: Write):
    row = service.create_template(ctx.session, ctx.actor, body.model_dump())
    ctx.session.commit()
    return service.template_out(row)


@router.get("/api/v1/message-templates/{template_id}", response_model=TemplateOut)
def get_template(template_id: str, ctx: Read):
    return service.template_out(service.get_template(ctx.session, template_id))


@router.patch("/api/v1/message-templates/{template_id}", response_model=TemplateOut)
def update_template(template_id: str, body: TemplatePatch, ctx: Write):
    changes = body.model_dump(exclude_unset=True)
    row = service.update_template(ctx.session, ctx.actor, template_id, changes)
    ctx.session.commit()
    return service.template_out(row)


@router.delete(
    "/api/v1/message-templates/{template_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_template(template_id: str, ctx: Write):
    service.delete_template(ctx.session, ctx.actor, template_id)
    ctx.session.commit()


# --- a booking's communications --------------------------------------------------------------


class CommunicationOut(BaseModel):
    id: str
    booking_id: str | None
    customer_id: str | None
    kind: str
    channel: str
    language: str
    recipient: str
    subject: str | None
    body_text: str
    status: str = Field(description="queued | sent | delivered | failed")
    provider: str | None = Field(description="smtp | file | twilio")
    provider_id: str | None
    message_id: str | None = Field(description="e-mail: the Message-ID every attempt carries")
    failure_reason: str | None
    attempts: int
    attachments: list[str] = Field(description="document ids")
    dedupe_key: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


@router.get("/api/v1/bookings/{booking_id}/communications",
            response_model=Page[CommunicationOut])  # fmt: skip
def list_communications(booking_id: str, ctx: Bookings, params: Params):
    booking = visible_booking(ctx, booking_id)
    stmt = select(Communication).where(Communication.booking_id == booking.id)
    order = [Communication.created_at, Communication.id]
    return paginate(ctx.session, stmt, order, params, transform=service.communication_out)


# --- provider settings -----------------------------------------------------------------------


def _address(value: str) -> str:
    if not email.valid_address(value):
        raise ValueError("not an e-mail address")
    return value


def _host(value: str) -> str:
    if not value or any(c.isspace() or c in "/@" for c in value):
        raise ValueError("a host name or IP address")
    return value


class SmtpIn(InModel):
    host: Annotated[str, Field(max_length=255), AfterValidator(_host)]
    port: int = Field(587, ge=1, le=65535)
    username: str = Field("", max_length=255)
    password: str | None = Field(None, max_length=500,
                                 description="left out: keep the stored one")  # fmt: skip
    from_address: Annotated[str, Field(max_length=320), AfterValidator(_address)]
    starttls: bool = Field(True, description="upgrade with STARTTLS (port 587)")
    use_tls: bool = Field(False, description="implicit TLS from the start (port 465)")


class SmtpOut(BaseModel):
    source: str = Field(description="organization | install (TOS_SMTP_*) | file (var/mail)")
    host: str | None
    port: int | None
    username: str | None
    from_address: str | None
    starttls: bool | None
    use_tls: bool | None
    password_set: bool


@router.get("/api/v1/messaging/smtp", response_model=SmtpOut)
def get_smtp(ctx: Providers):
    return service.smtp_view(ctx.organization.settings)


@router.put("/api/v1/messaging/smtp", response_model=SmtpOut)
def put_smtp(body: SmtpIn, ctx: Providers):
    if body.use_tls and body.starttls:
        raise ValidationFailed("choose use_tls or starttls, not both", path=["starttls"])
    view = service.set_smtp(ctx.session, ctx.actor, ctx.org_id, body.model_dump())
    ctx.session.commit()
    return view


@router.delete("/api/v1/messaging/smtp", status_code=http.HTTP_204_NO_CONTENT,
               response_class=Response)  # fmt: skip
def delete_smtp(ctx: Providers):
    service.clear_smtp(ctx.session, ctx.actor, ctx.org_id)
    ctx.session.commit()


def _sender(value: str) -> str:
    if sms.E164.match(value):
        return value
    if 1 <= len(value) <= 11 and value.isascii() and value.isalnum() and not value.isdigit():
        return value
    raise ValueError("an E.164 number (+…) or an alphanumeric sender id")


class SmsIn(InModel):
    account_sid: str = Field(pattern=r"^[A-Za-z0-9]{2,64}$")
    auth_token: str | None = Field(None, min_length=8, max_length=200,
                                   description="left out: keep the stored one")  # fmt: skip
    from_number: Annotated[str, Field(max_length=16), AfterValidator(_sender)] = Field(
        description="E.164 number, or an alphanumeric sender id (up to 11, with a letter)"
    )
    api_base: HttpUrl | None = Field(None, description="only to point at a compatible server")


class SmsOut(BaseModel):
    source: str = Field(description="organization | install (TOS_TWILIO_*) | file (var/sms)")
    account_sid: str | None
    from_number: str | None
    api_base: str | None
    auth_token_set: bool
    status_callback_url: str


@router.get("/api/v1/messaging/sms", response_model=SmsOut)
def get_sms(ctx: Providers):
    return service.sms_view(ctx.organization.settings, ctx.organization.slug)


@router.put("/api/v1/messaging/sms", response_model=SmsOut)
def put_sms(body: SmsIn, ctx: Providers):
    values: dict[str, Any] = body.model_dump(mode="json")
    if values.get("api_base"):
        values["api_base"] = values["api_base"].rstrip("/")
    view = service.set_sms(ctx.session, ctx.actor, ctx.org_id, values)
    ctx.session.commit()
    return view


@router.delete("/api/v1/messaging/sms", status_code=http.HTTP_204_NO_CONTENT,
               response_class=Response)  # fmt: skip
def delete_sms(ctx: Providers):
    service.clear_sms(ctx.session, ctx.actor, ctx.org_id)
    ctx.session.commit()


# --- Twilio's delivery-status callback -----------------------------------------------------

MAX_CALLBACK = 64_000  # a status callback is a few hundred bytes


@router.post("/api/v1/messaging/twilio/status")
async def twilio_status(request: Request, org: str | None = Query(None, max_length=64)) -> dict:
    body = await request.body()
    if len(body) > MAX_CALLBACK:
        raise ValidationFailed("the callback body is too large")
    params = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    query = f"?{request.url.query}" if request.url.query else ""
    # Twilio signs the URL it was given (TOS's public URL); behind no proxy that is also the URL
    # this server saw. Either verifies.
    urls = [f"{get_settings().public_url.rstrip('/')}{request.url.path}{query}", str(request.url)]
    given = request.headers.get("x-twilio-signature", "")

    def work() -> dict:
        session = get_session_factory()(write=True)
        try:
            outcome = service.receive_twilio_status(session, org, urls, params, given)
            session.commit()
        finally:
            session.close()
        return {"received": True, "outcome": outcome}

    return await run_in_threadpool(work)
