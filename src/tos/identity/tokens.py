"""API key tokens: 32 random bytes shown once, stored as SHA-256, compared by hash lookup."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tos_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    return token[:12]
