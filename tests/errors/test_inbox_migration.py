"""Events waiting in the inbox when the portal is upgraded keep their place: the migration that
moved the inbox to ErrorEvent's columns spreads each prepared item into them, and they drain."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from monitoring.errors.inbox import inbox_drain
from monitoring.errors.models import ErrorEvent, ErrorGroup
from monitoring.errors.normalize import event_normalize
from portal.models import Service
from tests.errors.builders import event, exception, frame

BEFORE, AFTER = ("errors", "0002_errorinbox"), ("errors", "0003_inbox_holds_event_columns")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_waiting_events_survive_the_upgrade_and_drain():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    service = apps.get_model("portal", "Service").objects.create(name="Shop", slug="shop")
    prepared = event_normalize(
        event(exception("KeyError", "basket", [frame("shop.cart", "add")]), tags={"region": "eu"}, release="shop@7"),
        now=NOW,
    )
    item = {key: prepared[key] for key in ("event", "fingerprint", "title", "culprit", "user_hash")}
    inbox = apps.get_model("errors", "ErrorInbox")
    inbox.objects.create(service=service, event_id=prepared["event_id"], time=NOW, received_at=NOW, item=item)
    inbox.objects.create(service=service, event_id="f" * 32, time=NOW, received_at=NOW, item={"not": "prepared"})
    executor = MigrationExecutor(connection)  # a fresh loader sees the rolled-back state
    executor.migrate(executor.loader.graph.leaf_nodes())
    drained = inbox_drain(now=NOW)
    assert (drained.stored, drained.dropped) == (1, 1)
    stored = ErrorEvent.objects.get(service=Service.objects.get(slug="shop"))
    assert (stored.event_id, stored.release, stored.tags) == (prepared["event_id"], "shop@7", {"region": "eu"})
    assert stored.exception[0]["stacktrace"]["frames"][0]["function"] == "add"
    assert ErrorGroup.objects.get().fingerprint == prepared["fingerprint"]
