"""OCTO request bodies, camelCase as OCTO names them. Unknown members are ignored (resellers send
capability fields TOS does not offer); a wrong type or a missing required member is BAD_REQUEST."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

Id = Annotated[str, Field(max_length=64)]
Ref = Annotated[str, Field(max_length=200)]
Text = Annotated[str, Field(max_length=5000)]
Locale = Annotated[str, Field(max_length=35)]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Blankable = BeforeValidator(_blank_to_none)


class Octo(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ContactIn(Octo):
    fullName: Annotated[Annotated[str, Field(max_length=200)] | None, Blankable] = None
    firstName: Annotated[Annotated[str, Field(max_length=100)] | None, Blankable] = None
    lastName: Annotated[Annotated[str, Field(max_length=100)] | None, Blankable] = None
    emailAddress: Annotated[EmailStr | None, Blankable] = None
    phoneNumber: Annotated[Annotated[str, Field(max_length=40)] | None, Blankable] = None
    locales: Annotated[list[Locale], Field(max_length=20)] | None = None
    postalCode: Annotated[Annotated[str, Field(max_length=20)] | None, Blankable] = None
    country: Annotated[Annotated[str, Field(max_length=100)] | None, Blankable] = None
    notes: Annotated[Annotated[str, Field(max_length=5000)] | None, Blankable] = None


class UnitItemIn(Octo):
    uuid: Annotated[str, Field(max_length=64)] | None = None
    unitId: Id
    resellerReference: Ref | None = None
    contact: ContactIn | None = None


class UnitIn(Octo):
    id: Id
    quantity: int = Field(ge=0, le=1000)


class AvailabilityIn(Octo):
    productId: Id
    optionId: Id
    localDateStart: Annotated[str, Field(max_length=10)] | None = None
    localDateEnd: Annotated[str, Field(max_length=10)] | None = None
    availabilityIds: Annotated[list[Id], Field(max_length=100)] | None = None
    units: Annotated[list[UnitIn], Field(max_length=50)] | None = None
    currency: Annotated[str, Field(max_length=3)] | None = None


class CalendarIn(Octo):
    productId: Id
    optionId: Id
    localDateStart: Annotated[str, Field(max_length=10)] | None = None
    localDateEnd: Annotated[str, Field(max_length=10)] | None = None
    units: Annotated[list[UnitIn], Field(max_length=50)] | None = None
    currency: Annotated[str, Field(max_length=3)] | None = None


class ReservationIn(Octo):
    uuid: Annotated[str, Field(max_length=64)] | None = None
    productId: Id
    optionId: Id
    availabilityId: Id | None = None
    expirationMinutes: int | None = None
    notes: Text | None = None
    unitItems: list[UnitItemIn] = Field(max_length=500)
    resellerReference: Ref | None = None
    contact: ContactIn | None = None
    currency: Annotated[str, Field(max_length=3)] | None = None


class ExtendIn(Octo):
    expirationMinutes: int | None = None


class ConfirmIn(Octo):
    emailReceipt: bool = False
    resellerReference: Ref | None = None
    contact: ContactIn
    unitItems: Annotated[list[UnitItemIn], Field(max_length=500)] | None = None


class CancelIn(Octo):
    reason: Annotated[str, Field(max_length=500)] | None = None
    force: bool = False


class UpdateIn(Octo):
    resellerReference: Ref | None = None
    productId: Id | None = None
    optionId: Id | None = None
    availabilityId: Id | None = None
    expirationMinutes: int | None = None
    notes: Text | None = None
    emailReceipt: bool = False
    unitItems: Annotated[list[UnitItemIn], Field(max_length=500)] | None = None
    contact: ContactIn | None = None
