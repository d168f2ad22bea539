"""tos serve | worker | migrate | demo | org | user | apikey"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from tos.config import get_settings
from tos.identity.actors import Actor

app = typer.Typer(help="TOS — the Travel Operating System", no_args_is_help=True)
org_app = typer.Typer(help="organizations", no_args_is_help=True)
user_app = typer.Typer(help="users", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
console = Console(stderr=True)

# The operator at the command line acts as the system.
CLI_ACTOR = Actor(type="system", id=None, organization_id=None, name="cli")


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Apply every database migration."""
    from tos.db.migrate import upgrade
    from tos.db.session import get_engine

    upgrade(get_engine())
    console.print("database migrated")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes")] = 1,
    jobs: Annotated[
        bool, typer.Option(help="run the embedded job consumer (used when no Redis is set)")
    ] = True,
) -> None:
    """Serve the API. On the embedded default (no Redis) this process also runs the one job
    consumer, whatever --workers says, so periodic jobs never run twice."""
    import uvicorn

    settings = get_settings()
    consumer = sweeper = None
    if jobs and not settings.redis_url and settings.job_queue != "off":
        from tos.outbox.worker import make_consumer

        consumer, sweeper = make_consumer(workers=2, periodic=True)
        consumer.start()
        if sweeper:
            sweeper.start()
    console.print(f"TOS serving at http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    try:
        uvicorn.run(
            "tos.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=os.environ.get("TOS_ACCESS_LOG", "0") == "1",
        )
    finally:
        if sweeper:
            sweeper.stop()
        if consumer:
            consumer.stop(graceful=True)


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="worker threads")] = 4,
    periodic: Annotated[
        bool, typer.Option(help="run the outbox sweeper; enable on exactly one worker")
    ] = True,
) -> None:
    """Run outbox deliveries and scheduled jobs (production: against Redis)."""
    import logging

    from tos.outbox.worker import make_consumer

    logging.basicConfig(level=get_settings().log_level)
    consumer, sweeper = make_consumer(workers=threads, periodic=periodic)
    if sweeper:
        sweeper.start()
    console.print(f"TOS worker: {threads} threads, sweeper {'on' if sweeper else 'off'}")
    try:
        consumer.run()
    finally:
        if sweeper:
            sweeper.stop()


@app.command("reconcile-payments")
def reconcile_payments() -> None:
    """Ask the providers about payments still waiting for a webhook (the worker also does this
    every minute); prints what became of them."""
    from tos.payments.reconcile import reconcile_due

    outcomes = reconcile_due()
    console.print(dict(outcomes) or "nothing to reconcile")


@app.command()
def demo() -> None:
    """Load the demo organization (idempotent) and print a new API key for it."""
    from tos.demo import load_demo

    token = load_demo()
    console.print("demo organization 'demo' ready; a new owner API key:")
    print(token)


@org_app.command("create")
def org_create(
    slug: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    timezone: Annotated[str, typer.Option()],
    currency: Annotated[str, typer.Option()],
) -> None:
    from pydantic import ValidationError

    from tos.core.errors import AppError
    from tos.db.session import transaction
    from tos.identity import service
    from tos.identity.schemas import OrganizationIn

    try:
        data = OrganizationIn(slug=slug, name=name, timezone=timezone, currency=currency)
        with transaction(unscoped=True) as session:
            org = service.create_organization(session, CLI_ACTOR, **data.model_dump())
    except (ValidationError, AppError) as exc:
        _fail(str(exc))
    print(org.id)


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option(help="organization slug")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()],
) -> None:
    from tos.core.errors import AppError
    from tos.db.session import transaction
    from tos.identity import service

    try:
        with transaction(unscoped=True) as session:
            organization = service.get_organization_by_slug(session, org)
            from tos.db import tenancy

            tenancy.set_scope(session, organization.id)
            user = service.create_user(session, _cli_actor(organization.id), email=email,
                                       name=name, role=role)  # fmt: skip
    except (AppError, ValueError) as exc:
        _fail(str(exc))
    print(user.id)


def _cli_actor(org_id: str) -> Actor:
    return Actor(type="system", id=None, organization_id=org_id, name="cli")


@apikey_app.command("create")
def apikey_create(
    org: Annotated[str, typer.Option(help="organization slug")],
    user: Annotated[str | None, typer.Option(help="email of the user the key acts as")] = None,
    role: Annotated[str | None, typer.Option(help="make a service user of this role")] = None,
    name: Annotated[str, typer.Option()] = "",
    actor_type: Annotated[
        str | None, typer.Option(help="system | webhook | channel (with --role)")
    ] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line, once."""
    from tos.core.errors import AppError
    from tos.db import tenancy
    from tos.db.session import transaction
    from tos.identity import service

    if (user is None) == (role is None):
        _fail("give exactly one of --user or --role")
    if actor_type is not None and actor_type not in ("system", "webhook", "channel"):
        _fail("--actor-type must be system, webhook or channel")
    try:
        with transaction(unscoped=True) as session:
            organization = service.get_organization_by_slug(session, org)
            tenancy.set_scope(session, organization.id)
            user_id = service.find_user_by_email(session, user).id if user else None
            key, token = service.create_api_key(
                session, _cli_actor(organization.id), user_id=user_id, role=role, name=name,
                actor_type=actor_type,
            )  # fmt: skip
    except (AppError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"API key {key.id} ({key.prefix}…) — shown once, store it now:")
    print(token)


@apikey_app.command("revoke")
def apikey_revoke(
    org: Annotated[str, typer.Option(help="organization slug")],
    key_id: Annotated[str, typer.Argument(help="the key's id")],
) -> None:
    from tos.core.errors import AppError
    from tos.db import tenancy
    from tos.db.session import transaction
    from tos.identity import service

    try:
        with transaction(unscoped=True) as session:
            organization = service.get_organization_by_slug(session, org)
            tenancy.set_scope(session, organization.id)
            service.revoke_api_key(session, _cli_actor(organization.id), key_id)
    except AppError as exc:
        _fail(str(exc))
    console.print(f"revoked {key_id}")


if __name__ == "__main__":
    app()
