from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

GuideStatus = Literal["active", "inactive", "on_leave"]


def to_e164(value: str) -> str:
    """International numbers only: a guide's phone is dialled from anywhere, and TOS has no
    home region to guess a national number's country from."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number; use the international form, e.g. +351 912 345 678")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _language(value: str) -> str:
    code = value.strip().lower()
    if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        raise ValueError("an ISO 639-1 code such as en")
    return code


Phone = Annotated[str, Field(max_length=40), AfterValidator(to_e164)]
Language = Annotated[str, AfterValidator(_language)]
# PostgreSQL refuses NUL bytes in text; refusing them here makes that a 422, not a 500.
NO_NUL = r"^[^\x00]*$"
ID_PATTERN = r"^[^\x00]+$"
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Bio = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


class GuideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: Name
    last_name: Name
    email: EmailStr
    phone: Phone | None = None
    languages: list[Language] = Field(default_factory=list, max_length=50)
    bio: Bio | None = None
    status: GuideStatus = "active"
    user_id: Id | None = Field(None, description="a user of this organization with role guide")


class GuidePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    languages: list[Language] | None = Field(None, max_length=50)
    bio: Bio | None = None
    status: GuideStatus | None = None
    user_id: Id | None = None


class GuideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    user_id: str | None
    first_name: str
    last_name: str
    email: str
    phone: str | None
    languages: list[str]
    bio: str | None
    status: str
    created_at: datetime
    updated_at: datetime
