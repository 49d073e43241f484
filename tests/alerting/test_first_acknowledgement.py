"""`Alert.first_acknowledged_at`: set by the first acknowledgement only, kept through handing
back and reopening (MTTA reads it), and filled from the event log for alerts from before."""

import importlib
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from monitoring.alerting.lifecycle import alert_acknowledge, alert_reopen, alert_resolve, alert_unacknowledge
from monitoring.alerting.models import Alert
from tests.alerting.conftest import T0

M = timedelta(minutes=1)
BEFORE = ("alerting", "0009_predict_linear_horizon")
AFTER = ("alerting", "0010_alert_first_acknowledged_at")


def test_the_first_acknowledgement_is_stored_and_kept_through_hand_back_and_reopen(make_alert, users):
    op = users["operator"]
    alert = make_alert(now=T0)
    assert alert.first_acknowledged_at is None

    alert_acknowledge(alert=alert, by=op, via="page", now=T0 + 3 * M)
    alert_unacknowledge(alert=alert, by=op, via="page", now=T0 + 5 * M)
    alert.refresh_from_db()
    assert (alert.acknowledged_at, alert.first_acknowledged_at) == (None, T0 + 3 * M)

    alert_acknowledge(alert=alert, by=op, via="api", now=T0 + 8 * M)
    alert_resolve(alert=alert, by=op, via="page", now=T0 + 20 * M)
    alert_reopen(alert=alert, by=op, via="page", now=T0 + 30 * M)
    alert_acknowledge(alert=alert, by=op, via="page", now=T0 + 31 * M)
    alert.refresh_from_db()
    assert alert.acknowledged_at == T0 + 31 * M
    assert alert.first_acknowledged_at == T0 + 3 * M


def test_the_api_shows_the_first_acknowledgement_beside_the_current_one(make_alert, users, api_client):
    op = users["operator"]
    alert = make_alert(now=T0)
    alert_acknowledge(alert=alert, by=op, via="page", now=T0 + 3 * M)
    alert_unacknowledge(alert=alert, by=op, via="page", now=T0 + 5 * M)
    body = api_client("viewer").get(f"/api/v1/alerts/{alert.pk}/").json()
    assert body["acknowledged_at"] is None
    # The API writes times in TIME_ZONE (CI runs these tests in a half-hour zone too).
    assert datetime.fromisoformat(body["first_acknowledged_at"]) == T0 + 3 * M


def test_an_alert_resolved_without_acknowledgement_has_none(make_alert, users):
    alert = make_alert(now=T0)
    alert_resolve(alert=alert, by=users["operator"], via="page", now=T0 + M)
    alert.refresh_from_db()
    assert alert.first_acknowledged_at is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_it_from_the_first_acknowledged_event_in_batches(monkeypatch):
    migration = importlib.import_module("monitoring.alerting.migrations.0010_alert_first_acknowledged_at")
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches for five alerts, one of them empty
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    old_alert, old_event = apps.get_model("alerting", "Alert"), apps.get_model("alerting", "AlertEvent")

    def alert(n, *events):
        made = old_alert.objects.create(fingerprint=f"f{n}", summary="x", created_at=T0, status="resolved")
        for kind, minutes in events:
            old_event.objects.create(alert=made, kind=kind, created_at=T0 + minutes * M)
        return made.pk

    twice = alert(1, ("triggered", 0), ("acknowledged", 7), ("unacknowledged", 8), ("acknowledged", 2))
    never = alert(2, ("triggered", 0), ("resolved", 5))
    gone = alert(3)
    once = alert(4, ("acknowledged", 1))
    late = alert(5, ("acknowledged", 9))
    old_alert.objects.filter(pk=gone).delete()  # a hole in the ids: batch 3-4 holds one alert

    executor = MigrationExecutor(connection)  # a fresh loader sees the rolled-back state
    executor.migrate(executor.loader.graph.leaf_nodes())

    found = dict(Alert.objects.values_list("pk", "first_acknowledged_at"))
    assert found == {twice: T0 + 2 * M, never: None, once: T0 + M, late: T0 + 9 * M}
