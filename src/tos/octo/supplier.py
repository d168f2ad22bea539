"""GET /octo/supplier: the organization as OCTO's supplier."""

from __future__ import annotations

from typing import Any

from tos.octo.context import OctoContext


def supplier_json(ctx: OctoContext) -> dict[str, Any]:
    org = ctx.organization
    contact = (org.settings or {}).get("contact") or {}
    body: dict[str, Any] = {
        "id": org.id,
        "name": org.name,
        "endpoint": f"{ctx.base_url}/octo",
        "contact": {
            "website": contact.get("website"),
            "email": contact.get("email"),
            "telephone": contact.get("telephone") or contact.get("phone"),
            "address": contact.get("address"),
        },
    }
    if ctx.content:
        body |= {"shortDescription": None, "media": []}
    return body
