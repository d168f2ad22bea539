"""create_app(): routers, middleware, error handlers."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy import text

from tos import wiring
from tos.core.http import RequestIdMiddleware, install_error_handlers
from tos.db.session import get_session_factory
from tos.outbox import worker

log = logging.getLogger("tos")


def create_app() -> FastAPI:
    app = FastAPI(
        title="TOS — the Travel Operating System",
        version="0.1.0",
        description="One booking_id from inquiry to refund. `/api/v1` is authenticated with "
        "`Authorization: Bearer <API key>`; `/public/v1` is open and rate-limited.",
    )
    install_error_handlers(app)
    worker.install()
    app.add_middleware(RequestIdMiddleware)
    for router in wiring.routers():
        app.include_router(router)

    @app.get("/api/v1/health", tags=["ops"])
    def health() -> dict[str, object]:
        try:
            with get_session_factory()(write=False) as session:
                session.execute(text("SELECT 1"))
            db = "ok"
        except Exception:  # noqa: BLE001 - health reports, it does not raise
            log.exception("health check: database unreachable")
            db = "unreachable"
        return {"status": "ok" if db == "ok" else "degraded", "database": db}

    return app
