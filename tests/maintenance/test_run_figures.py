"""The figures reporting sums (bytes freed, files removed, packages updated) are columns copied
from a run's `changes`: odd values count as nothing, and the migration that added the columns
filled them for the runs recorded before it."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from maintenance.models import MaintenanceRun
from maintenance.models.runs import FIGURE_MAX, change_figures

BEFORE = ("maintenance", "0003_kind_scaling_renamed_scaling_check")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "changes, figures",
    [
        ({"bytes_freed": 4096, "files_removed": 3, "packages": [{}, {}]}, (4096, 3, 2)),
        ({"bytes_freed": 0.75}, (0, 0, 0)),  # a float is truncated to the bytes it holds
        ({"bytes_freed": 2048.9, "files_removed": 1.0}, (2048, 1, 0)),
        ({"bytes_freed": "lots", "files_removed": None, "packages": "x"}, (0, 0, 0)),
        ({"bytes_freed": -5, "files_removed": True}, (0, 0, 0)),
        ({"bytes_freed": FIGURE_MAX, "files_removed": FIGURE_MAX - 1}, (0, FIGURE_MAX - 1, 0)),
        ({"bytes_freed": float("nan")}, (0, 0, 0)),
        ({}, (0, 0, 0)),
        (["not", "a", "dict"], (0, 0, 0)),
        (None, (0, 0, 0)),
    ],
)
def test_change_figures(changes, figures):
    got = change_figures(changes)
    assert (got["bytes_freed"], got["files_removed"], got["packages_updated"]) == figures


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_figures_of_earlier_runs():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    task = apps.get_model("maintenance", "MaintenanceTask").objects.create(
        kind="cleanup", title="tmp", created_at=NOW, updated_at=NOW
    )
    Run = apps.get_model("maintenance", "MaintenanceRun")
    cleaned = Run.objects.create(task=task, trigger="manual", status="succeeded", created_at=NOW,
                                 changes={"bytes_freed": 10_000, "files_removed": 12})  # fmt: skip
    updated = Run.objects.create(task=task, trigger="manual", status="succeeded", created_at=NOW,
                                 changes={"packages": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})  # fmt: skip
    odd = Run.objects.create(task=task, trigger="manual", status="failed", created_at=NOW, changes={"packages": 3})
    executor = MigrationExecutor(connection)  # a fresh loader sees the rolled-back state
    executor.migrate(executor.loader.graph.leaf_nodes())
    columns = ("pk", "bytes_freed", "files_removed", "packages_updated")
    rows = {pk: figures for pk, *figures in MaintenanceRun.objects.values_list(*columns)}
    assert rows == {cleaned.pk: [10_000, 12, 0], updated.pk: [0, 0, 3], odd.pk: [0, 0, 0]}
