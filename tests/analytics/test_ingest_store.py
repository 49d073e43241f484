"""analytics.store.events_insert: validation, atomicity, idempotency (key and event_id)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import EventBatch, UsageEvent
from analytics.store import EventsInvalid, events_insert
from tests.support import on_postgres

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def _errors(exc) -> dict[str, str]:
    return {e.as_dict()["field"]: e.message for e in exc.value.errors}


@pytest.mark.django_db
def test_it_stores_every_field_as_sent(service):
    outcome = events_insert(
        service=service,
        now=NOW,
        items=[
            {
                "time": "2026-03-02T13:00:00+01:00",
                "event_id": "e1",
                "session_id": "s1",
                "user_id": "u1",
                "kind": "api_call",
                "name": "reports.export",
                "duration_ms": 12.5,
                "success": False,
                "error_type": "TimeoutError",
                "memory_delta_bytes": -2048,
                "cpu_time_ms": 3,
                "metadata": {"format": "csv", "rows": 10},
            },
            {"name": "search", "time": NOW.timestamp() - 60},
        ],
    )
    assert (outcome.accepted, outcome.duplicate, outcome.skipped) == (2, False, 0)
    first, second = UsageEvent.objects.order_by("id")
    assert first.time == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert (first.event_id, first.session_id, first.user_id, first.kind) == ("e1", "s1", "u1", "api_call")
    assert (first.duration_ms, first.success, first.error_type) == (12.5, False, "TimeoutError")
    assert (first.memory_delta_bytes, first.cpu_time_ms, first.metadata) == (-2048, 3.0, {"format": "csv", "rows": 10})
    assert (second.kind, second.success, second.time, second.metadata) == (
        "feature",
        True,
        NOW - timedelta(minutes=1),
        {},
    )


@pytest.mark.django_db
def test_an_error_type_without_success_counts_as_a_failure(service):
    events_insert(service=service, now=NOW, items=[{"name": "a", "error_type": "ValueError"}])
    assert UsageEvent.objects.get().success is False


BAD = [
    ({"name": ""}, "name", "is required"),
    ({}, "name", "is required"),
    ({"name": "a" * 201}, "name", "at most 200"),
    ({"name": 5}, "name", "must be a string"),
    ({"name": "a\x00b"}, "name", "NUL"),
    ({"name": "a", "kind": "click"}, "kind", "must be one of"),
    ({"name": "a", "time": "2026-03-02T12:00:00"}, "time", "zone"),
    ({"name": "a", "time": "yesterday"}, "time", "ISO 8601"),
    ({"name": "a", "time": "2026-03-02T12:40:00Z"}, "time", "future"),
    ({"name": "a", "time": "2025-01-01T00:00:00Z"}, "time", "retention"),
    ({"name": "a", "duration_ms": -1}, "duration_ms", "between"),
    ({"name": "a", "duration_ms": "5"}, "duration_ms", "finite number"),
    ({"name": "a", "duration_ms": True}, "duration_ms", "finite number"),
    ({"name": "a", "cpu_time_ms": 1e300}, "cpu_time_ms", "between"),
    ({"name": "a", "success": "yes"}, "success", "true or false"),
    ({"name": "a", "memory_delta_bytes": 1.5}, "memory_delta_bytes", "integer"),
    ({"name": "a", "memory_delta_bytes": 2**60}, "memory_delta_bytes", "between"),
    ({"name": "a", "metadata": []}, "metadata", "object"),
    ({"name": "a", "metadata": {"x": "y" * 5000}}, "metadata", "4096 bytes"),
    ({"name": "a", "metadata": {"x": "\x00"}}, "metadata", "NUL"),
    ({"name": "a", "event_id": "e" * 65}, "event_id", "at most 64"),
    ({"name": "a", "session_id": "s" * 65}, "session_id", "at most 64"),
    ({"name": "a", "user_id": "u" * 129}, "user_id", "at most 128"),
    ({"name": "a", "error_type": ["x"]}, "error_type", "string"),
    ({"name": "a", "colour": "red"}, "colour", "not a field"),
    ("a", "event", "object"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("item", "field", "message"), BAD)
def test_it_refuses_an_invalid_event_naming_its_field(service, item, field, message):
    with pytest.raises(EventsInvalid) as exc:
        events_insert(service=service, now=NOW, items=[{"name": "fine"}, item])
    errors = _errors(exc)
    assert list(errors) == [f"events[1].{field}"]
    assert message in errors[f"events[1].{field}"]
    assert not UsageEvent.objects.exists()  # the valid first event is not written either


@pytest.mark.django_db
def test_it_lists_every_bad_event(service):
    with pytest.raises(EventsInvalid) as exc:
        events_insert(service=service, now=NOW, items=[{"name": ""}, {"name": "ok"}, {"name": "a", "kind": "x"}])
    assert list(_errors(exc)) == ["events[0].name", "events[2].kind"]


@pytest.mark.django_db
def test_it_refuses_a_batch_over_the_limit(service, settings):
    settings.ANALYTICS_INGEST_MAX_BATCH = 2
    with pytest.raises(EventsInvalid) as exc:
        events_insert(service=service, now=NOW, items=[{"name": "a"}] * 3)
    assert "at most 2" in exc.value.errors[0].message
    with pytest.raises(EventsInvalid):
        events_insert(service=service, now=NOW, items={"name": "a"})


@pytest.mark.django_db
def test_a_batch_sent_again_with_its_key_writes_nothing(service, other_service):
    items = [{"name": "a"}, {"name": "b"}]
    assert events_insert(service=service, items=items, idempotency_key="k1", now=NOW).accepted == 2
    again = events_insert(service=service, items=items, idempotency_key="k1", now=NOW)
    assert (again.accepted, again.duplicate) == (2, True)
    assert UsageEvent.objects.count() == 2
    # Keys are per service: another service's batch with the same key is its own.
    assert events_insert(service=other_service, items=items, idempotency_key="k1", now=NOW).duplicate is False
    assert EventBatch.objects.count() == 2


@pytest.mark.django_db
def test_events_already_stored_by_event_id_are_skipped(service, other_service):
    events_insert(service=service, now=NOW, items=[{"name": "a", "event_id": "e1"}])
    outcome = events_insert(
        service=service,
        now=NOW,
        items=[
            {"name": "a", "event_id": "e1"},
            {"name": "b", "event_id": "e2"},
            {"name": "b", "event_id": "e2"},
            {"name": "c"},
        ],
    )
    assert (outcome.accepted, outcome.skipped) == (2, 2)
    assert sorted(UsageEvent.objects.values_list("name", flat=True)) == ["a", "b", "c"]
    # The same id from another service is another event.
    assert events_insert(service=other_service, now=NOW, items=[{"name": "a", "event_id": "e1"}]).accepted == 1


@pytest.mark.django_db(transaction=True)
def test_a_racing_writer_of_the_same_event_id_is_skipped_not_an_error(service, monkeypatch):
    """The unique constraint catches what the check missed; the retry skips the stored event."""
    import analytics.store as store

    events_insert(service=service, now=NOW, items=[{"name": "a", "event_id": "e1"}])
    real = store._new_rows
    calls = []

    def racing(rows, service_id):
        calls.append(1)
        # The first check ran before the other writer committed e1: it saw nothing stored.
        return rows if len(calls) == 1 else real(rows, service_id)

    monkeypatch.setattr(store, "_new_rows", racing)
    outcome = events_insert(service=service, now=NOW, items=[{"name": "a", "event_id": "e1"}, {"name": "b"}])
    assert (outcome.accepted, outcome.skipped, len(calls)) == (1, 1, 2)
    assert UsageEvent.objects.count() == 2


@pytest.mark.django_db
def test_the_event_id_check_searches_the_unique_index(service):
    """Not a scan of every event of the service: each batch with ids runs this check."""
    items = [{"name": "a", "event_id": f"e{i}"} for i in range(250)]
    events_insert(service=service, now=NOW, items=items)
    with CaptureQueriesContext(connection) as captured:
        assert events_insert(service=service, now=NOW, items=items).skipped == 250
    lookups = [q for q in captured.captured_queries if q["sql"].startswith("SELECT") and "event_id" in q["sql"]]
    assert lookups
    with connection.cursor() as cursor:
        for query in lookups:
            if on_postgres():
                cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: force the choice
                cursor.execute(f"EXPLAIN {query['sql']}")
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            # The (service, event_id) index, not the service's every event through another one.
            assert "analytics_event_id" in plan, plan
