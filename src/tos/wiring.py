"""The tables that connect modules: routers now; event handlers and provider registries later."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from tos.audit.api import router as audit
    from tos.catalog.api import router as catalog
    from tos.catalog.public_api import router as public_catalog
    from tos.identity.api import router as identity
    from tos.inventory.api import router as inventory
    from tos.operations.api import router as operations

    return [identity, audit, catalog, inventory, operations, public_catalog]
