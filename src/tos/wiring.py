"""The tables that connect modules: routers now; event handlers and provider registries later."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from tos.audit.api import router as audit
    from tos.identity.api import router as identity

    return [identity, audit]
