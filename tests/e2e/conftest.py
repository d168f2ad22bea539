"""The real server (and worker) as subprocesses over HTTP, on the test run's databases."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A `tos` subprocess in its own process group, so it and its children stop together."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tos.cli", *args],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        try:
            self.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
        self._fh.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Server:
    def __init__(
        self,
        database_url: str,
        tmp: Path,
        *,
        workers: int = 2,
        jobs: bool = True,
        env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = {
            **os.environ,
            "TOS_DATABASE_URL": database_url,
            "TOS_JOB_QUEUE": "auto",
            "TOS_HUEY_SQLITE_PATH": str(tmp / "huey.db"),
            "TOS_OUTBOX_SWEEP_SECONDS": "1",
            "TOS_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        if "TOS_REDIS_URL" not in (env or {}):
            self.env.pop("TOS_REDIS_URL", None)  # the embedded queue unless a test asks
        args = [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ] + ([] if jobs else ["--no-jobs"])
        self.proc = Proc(args, self.env, tmp / f"server-{self.port}.log")
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.proc.tail()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy:\n{self.proc.tail()}")

    def worker(self, *args: str) -> Proc:
        return Proc(["worker", *args], self.env, self.tmp / f"worker-{time.monotonic_ns()}.log")

    def stop(self) -> None:
        self.proc.stop()


def park_earlier_outbox(db) -> None:
    """In-process tests share this database and leave work queued (documents, messages they do
    not test). A real worker started now would run all of it, holding SQLite's write lock while
    it renders PDFs: park what was queued before this test, so the server works for it alone."""
    from sqlalchemy import update

    from tos.db import tenancy
    from tos.outbox.models import OutboxMessage

    with db(write=True) as session, tenancy.unscoped(session):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(due_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC))
        )
        session.commit()


@pytest.fixture
def server_factory(database_url: str, tmp_path: Path, db) -> Iterator:
    started: list[Server] = []

    def start(**kwargs) -> Server:
        park_earlier_outbox(db)
        server = Server(database_url, tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
