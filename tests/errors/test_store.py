from datetime import UTC, datetime, timedelta

import pytest

from monitoring.alerting.models import Alert, AlertStatus
from monitoring.errors.lifecycle import group_resolve
from monitoring.errors.models import ActivityKind, ErrorEvent, ErrorGroup, ErrorGroupHour, ErrorProject, GroupStatus
from monitoring.errors.normalize import MAX_EVENTS_PER_BATCH, MAX_FRAMES
from monitoring.errors.store import DUPLICATE, REFUSED, STORED, events_store
from tests.errors.builders import event, exception, frame, message_event

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_it_groups_a_batch_and_counts(service):
    events = [event(user={"id": str(n % 3)}, timestamp=(NOW - timedelta(hours=n % 2)).timestamp()) for n in range(6)]
    result = events_store(service=service, events=events, now=NOW)
    assert [o.status for o in result.outcomes] == [STORED] * 6
    group = ErrorGroup.objects.get()
    assert (group.times_seen, group.users_affected) == (6, 3)
    assert group.title == "ValueError: bad input"
    assert group.culprit == "shop.cart in total"
    assert (group.first_seen, group.last_seen) == (NOW - timedelta(hours=1), NOW)
    assert group.first_release == group.last_release == "shop@1.0"
    hours = dict(ErrorGroupHour.objects.values_list("hour", "count"))
    assert hours == {datetime(2026, 5, 4, 10, tzinfo=UTC): 3, datetime(2026, 5, 4, 9, tzinfo=UTC): 3}
    assert result.new_groups == [group.pk]


def test_it_is_idempotent_on_event_id(service):
    same = event()
    events_store(service=service, events=[same], now=NOW)
    again = events_store(service=service, events=[same, same], now=NOW)
    assert [o.status for o in again.outcomes] == [DUPLICATE, DUPLICATE]
    assert ErrorEvent.objects.count() == 1
    assert ErrorGroup.objects.get().times_seen == 1
    assert ErrorGroupHour.objects.get().count == 1


def test_later_batches_add_to_counters_and_hours(service):
    for _ in range(3):
        events_store(service=service, events=[event(release="shop@2.0")], now=NOW)
    group = ErrorGroup.objects.get()
    assert group.times_seen == 3
    assert ErrorGroupHour.objects.get().count == 3
    assert group.first_release == group.last_release == "shop@2.0"


def test_same_fingerprint_in_two_services_is_two_groups(service, other_service):
    events_store(service=service, events=[event()], now=NOW)
    events_store(service=other_service, events=[event()], now=NOW)
    assert ErrorGroup.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not an object", "event"),
        ({"event_id": "xyz", "message": "m"}, "event_id"),
        ({"timestamp": "yesterday", "message": "m"}, "timestamp"),
        ({"level": "shouting", "message": "m"}, "level"),
        ({"exception": {"values": "nope"}}, "exception.values"),
        ({"exception": {"values": [{"type": "E", "stacktrace": {"frames": 3}}]}}, "exception.values[0].stacktrace"),
        ({"message": "m", "tags": [["a"]]}, "tags[0]"),
        ({"message": "m", "user": "bob"}, "user"),
        ({"message": "m", "fingerprint": "one"}, "fingerprint"),
        ({"level": "error"}, "exception"),
    ],
)
def test_bad_events_are_refused_naming_the_field(service, body, field):
    good = event()
    result = events_store(service=service, events=[body, good], now=NOW)
    refused, stored = result.outcomes
    assert refused.status == REFUSED and refused.reason.startswith(field)
    assert stored.status == STORED


def test_it_refuses_beyond_the_batch_maximum(service):
    events = [message_event("hello")] * (MAX_EVENTS_PER_BATCH + 2)
    result = events_store(service=service, events=events, now=NOW)
    assert result.outcomes[-1].status == REFUSED
    assert result.outcomes[-1].reason.startswith("events:")


def test_sizes_are_bounded(service):
    frames = [frame("shop.deep", f"f{n}", n) for n in range(MAX_FRAMES * 3)]
    huge = event(exception("RecursionError", "x" * 100_000, frames), extra={"blob": "y" * 100_000})
    result = events_store(service=service, events=[huge], now=NOW)
    assert result.outcomes[0].status == STORED
    stored = ErrorEvent.objects.get()
    assert len(stored.exception[0]["stacktrace"]["frames"]) == MAX_FRAMES
    assert len(stored.exception[0]["value"]) <= 8192
    assert len(stored.data["extra"]["blob"]) <= 1024


def test_a_future_timestamp_is_clamped(service):
    events_store(service=service, events=[event(timestamp=(NOW + timedelta(days=3)).isoformat())], now=NOW)
    assert ErrorGroup.objects.get().last_seen <= NOW + timedelta(minutes=1)


def test_regression_reopens_with_activity_and_alert(service, users):
    ErrorProject.objects.create(service=service, alert_on_regression=True)
    events_store(service=service, events=[event()], now=NOW)
    group = ErrorGroup.objects.get()
    assert not Alert.objects.exists()  # alert_on_new is off
    group_resolve(group=group, by=users["operator"], via="page", now=NOW)
    result = events_store(service=service, events=[event()], now=NOW + timedelta(hours=1))
    group.refresh_from_db()
    assert group.status == GroupStatus.UNRESOLVED
    assert result.regressed_groups == [group.pk]
    kinds = list(group.activity.values_list("kind", flat=True))
    assert kinds == [ActivityKind.RESOLVED, ActivityKind.REGRESSED, ActivityKind.ALERTED]
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.FIRING and alert.service == service
    assert "Regression in Checkout" in alert.summary
    # Another regression while the alert is open does not open a second one.
    group_resolve(group=group, by=users["operator"], via="page", now=NOW + timedelta(hours=2))
    assert Alert.objects.get().status == AlertStatus.RESOLVED  # resolving the group closed it


def test_no_regression_for_ignored_groups(service, users):
    from monitoring.errors.lifecycle import group_ignore

    events_store(service=service, events=[event()], now=NOW)
    group_ignore(group=ErrorGroup.objects.get(), by=users["operator"], via="page", now=NOW)
    result = events_store(service=service, events=[event()], now=NOW)
    assert result.regressed_groups == []
    assert ErrorGroup.objects.get().status == GroupStatus.IGNORED


def test_new_group_alert_when_asked(service):
    ErrorProject.objects.create(service=service, alert_on_new=True)
    events_store(service=service, events=[event(), event()], now=NOW)
    events_store(service=service, events=[event()], now=NOW)
    alert = Alert.objects.get()
    assert alert.summary.startswith("New error in Checkout: ValueError")
    assert alert.labels == {"service": "checkout", "error_group": str(ErrorGroup.objects.get().pk)}


def test_the_evaluator_leaves_error_group_alerts_open(service):
    from monitoring.alerting.evaluation import rules_evaluate

    ErrorProject.objects.create(service=service, alert_on_new=True)
    events_store(service=service, events=[event()], now=NOW)
    rules_evaluate(now=NOW + timedelta(minutes=5))
    assert Alert.objects.get().status == AlertStatus.FIRING


def test_a_batch_costs_the_same_queries_for_more_events(service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    events_store(service=service, events=[event()], now=NOW)  # the group exists

    def cost(n: int) -> int:
        batch = [event(user={"id": f"{n}-{i}"}, tags={"n": str(i)}) for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            assert events_store(service=service, events=batch, now=NOW).stored == n
        return len(queries)

    assert cost(5) == cost(300) <= 16
