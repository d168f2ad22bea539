import os
import subprocess
import sys
import uuid

import pytest


def tos(database_url, *args, ok=True):
    env = {**os.environ, "TOS_DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-m", "tos.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_an_operator_sets_up_an_organization_users_and_keys_from_the_cli(database_url, client):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    tos(database_url, "org", "create", "--slug", slug, "--name", "CLI Tours",
        "--timezone", "Asia/Bangkok", "--currency", "THB")  # fmt: skip
    tos(database_url, "user", "create", "--org", slug, "--email", "Boss@Example.com",
        "--name", "Boss", "--role", "owner")  # fmt: skip
    out = tos(database_url, "apikey", "create", "--org", slug, "--user", "boss@example.com")
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("tos_")
    staff = client.get("/api/v1/staff", headers={"Authorization": f"Bearer {token}"})
    assert staff.status_code == 200 and staff.json()[0]["email"] == "boss@example.com"


def test_a_role_key_makes_a_service_user_with_a_fixed_actor_type(database_url, client):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    tos(database_url, "org", "create", "--slug", slug, "--name", "X", "--timezone", "UTC",
        "--currency", "EUR")  # fmt: skip
    out = tos(database_url, "apikey", "create", "--org", slug, "--role", "admin",
              "--actor-type", "webhook", "--name", "payments")  # fmt: skip
    token = out.stdout.strip().splitlines()[-1]
    users = client.get("/api/v1/staff", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(u["role"], u["actor_type"], u["is_service"]) for u in users] == [
        ("admin", "webhook", True)
    ]


def test_revoking_from_the_cli_locks_the_key_out(database_url, client, org):
    out = tos(database_url, "apikey", "create", "--org", org.slug, "--role", "manager")
    token = out.stdout.strip().splitlines()[-1]
    keys = client.get("/api/v1/api-keys", headers=org.headers()).json()
    key_id = [k["id"] for k in keys if k["prefix"] == token[:12]][0]
    tos(database_url, "apikey", "revoke", "--org", org.slug, key_id)
    r = client.get("/api/v1/staff", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "args",
    [
        ["org", "create", "--slug", "Bad Slug", "--name", "X", "--timezone", "UTC",
         "--currency", "EUR"],
        ["org", "create", "--slug", "ok-slug", "--name", "X", "--timezone", "Mars/Olympus",
         "--currency", "EUR"],
        ["apikey", "create", "--org", "no-such-org", "--role", "admin"],
        ["apikey", "create", "--org", "no-such-org"],
    ],
)  # fmt: skip
def test_bad_cli_input_fails_with_a_message_and_no_traceback(database_url, args):
    proc = tos(database_url, *args, ok=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "error" in proc.stderr.lower()
