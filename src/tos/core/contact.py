"""Normalised contact details: emails lower-cased, phones in E.164."""

from __future__ import annotations

import phonenumbers


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_phone(phone: str, region: str | None = None) -> str:
    """E.164, or ValueError. Without a leading + the number needs a region to be read."""
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
