from datetime import UTC, datetime, timedelta

import pytest

from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorGroupHour
from monitoring.errors.retention import events_prune
from monitoring.errors.store import events_store
from monitoring.errors.tasks import prune
from portal.schedules import declared_schedules
from tests.errors.builders import event

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def _store(service, days_ago: int, n: int) -> None:
    when = NOW - timedelta(days=days_ago)
    events_store(service=service, events=[event(timestamp=when.timestamp()) for _ in range(n)], now=NOW)


def test_old_events_go_in_bounded_batches_and_groups_keep_their_counts(service, settings, django_assert_num_queries):
    settings.ERRORS_EVENT_RETENTION_DAYS = 30
    _store(service, 40, 7)
    _store(service, 1, 2)
    report = events_prune(now=NOW, batch=3, max_batches=2)
    assert (report.events, report.batches, report.done) == (6, 2, False)
    report = events_prune(now=NOW, batch=3)
    assert (report.events, report.hours, report.done) == (1, 1, True)
    assert ErrorEvent.objects.count() == 2
    assert ErrorGroupHour.objects.count() == 1
    assert ErrorGroup.objects.get().times_seen == 9
    # Nothing left: one read per table.
    with django_assert_num_queries(2):
        assert events_prune(now=NOW).events == 0


def test_the_job_is_scheduled_and_runs(service):
    assert "monitoring.errors.tasks.prune" in {s.func for s in declared_schedules()}
    _store(service, 400, 1)
    assert prune()["events"] == 1
