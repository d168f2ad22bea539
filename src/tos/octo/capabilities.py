"""OCTO capabilities: which ones TOS speaks, and which a request asked for (the
`Octo-Capabilities` header), echoed on every response as the ones initialised."""

from __future__ import annotations

from typing import Any

from fastapi import Request

CONTENT = "octo/content"
PRICING = "octo/pricing"
SUPPORTED = (CONTENT, PRICING)

CAPABILITIES: list[dict[str, Any]] = [
    {"id": CONTENT, "revision": 1, "required": False, "dependencies": [],
     "docs": "https://docs.octo.travel/octo-api-capabilities/content"},
    {"id": PRICING, "revision": 1, "required": False, "dependencies": [],
     "docs": "https://docs.octo.travel/octo-api-capabilities/pricing"},
]  # fmt: skip


def requested(header: str | None) -> tuple[str, ...]:
    """The supported capabilities named in the header, in TOS's order; unknown ones are
    ignored, as OCTO asks of a supplier that does not offer them."""
    if not header:
        return ()
    names = {part.strip().lower() for part in header.split(",")}
    return tuple(c for c in SUPPORTED if c in names)


def capabilities_header(request: Request) -> str:
    return ", ".join(requested(request.headers.get("octo-capabilities")))
