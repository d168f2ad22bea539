from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tos.db.models import metadata


def test_the_migration_history_builds_every_table(db):
    tables = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_autogenerate_finds_no_drift_between_models_and_migrations(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_the_seat_guard_constraint_exists_in_the_database(db):
    checks = {c["name"] for c in inspect(db.engine).get_check_constraints("schedules")}
    assert "ck_schedules_seats_within_capacity" in checks
