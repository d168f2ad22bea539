"""Provider credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
TOS_SECRET_KEY with HKDF, so a database dump alone reveals no secret. Rotating TOS_SECRET_KEY
needs the accounts re-entered."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tos.config import get_settings


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"tos-payment-accounts", info=b"fernet"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(values: dict[str, Any]) -> str:
    return _fernet(get_settings().secret_key).encrypt(json.dumps(values).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    try:
        return json.loads(_fernet(get_settings().secret_key).decrypt(token.encode()))
    except InvalidToken:
        raise ValueError("payment account credentials cannot be decrypted") from None
