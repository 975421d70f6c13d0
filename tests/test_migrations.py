"""Versioned migrations: the models match the migrated schema, and upgrades keep data."""
from __future__ import annotations

from playhouse.schema_diff import diff_models

from schedulerx import db
from schedulerx.models import ALL_MODELS, Workspace


def test_migrated_schema_matches_the_models(rt):
    # A model change without a migration shows up here as a diff.
    diff = diff_models(db.database.obj, ALL_MODELS)
    assert not diff, f"models and migrations differ; write a migration:\n{diff}"


def test_upgrade_is_idempotent_and_keeps_data(rt):
    Workspace.create(name="keep me", timezone="UTC")
    assert db.upgrade() == []  # nothing pending: a second run changes nothing
    assert Workspace.get(Workspace.name == "keep me").timezone == "UTC"
    applied = {m.name for m in db.migrations().status() if m.applied}
    assert "0001_initial" in applied
