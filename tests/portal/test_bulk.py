"""Bulk writes: one INSERT for a thousand rows on SQLite too (full_batches), one UPDATE setting a
thousand rows to their own values (bulk_set)."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerting.models import RuleState
from monitoring.models import MetricSample
from portal.lib.bulk import bulk_set, chunks, full_batches
from tests.alerting.factories import AlertRuleFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rows(service, count: int) -> list[MetricSample]:
    return [MetricSample(service=service, name="m", labels={}, labels_hash="0", value=i, time=T0) for i in range(count)]


def inserts(queries) -> int:
    return sum(q["sql"].startswith("INSERT") for q in queries)


def test_a_thousand_rows_are_one_insert_inside_and_the_limit_is_restored_after(service):
    limit = connection.features.max_query_params
    with CaptureQueriesContext(connection) as outside:
        MetricSample.objects.bulk_create(rows(service, 1000))
    with CaptureQueriesContext(connection) as inside, full_batches():
        created = MetricSample.objects.bulk_create(rows(service, 1000))
    assert inserts(inside) == 1
    assert all(sample.pk for sample in created)
    assert MetricSample.objects.count() == 2000
    assert connection.features.max_query_params == limit
    if connection.vendor == "sqlite":
        assert inserts(outside) == 7  # Django's own 999 parameters: 166 rows of 6 columns a statement


def test_chunks_cut_in_lists_under_the_oldest_sqlite_limit():
    assert [len(c) for c in chunks(list(range(2000)))] == [900, 900, 200]
    assert list(chunks([])) == []


def test_bulk_set_writes_what_bulk_update_writes_in_one_statement(db, django_assert_num_queries):
    rule = AlertRuleFactory()
    states = RuleState.objects.bulk_create(
        [RuleState(rule=rule, fingerprint=str(i), labels={"n": i}, active_since=T0, value=1.0) for i in range(1300)]
    )
    for i, state in enumerate(states[:1200]):
        state.active_since = None if i % 3 else T0 + timedelta(seconds=i)
        state.value = None if i % 7 == 0 else i / 3
        state.labels = {"n": i, "changed": True}
    with django_assert_num_queries(1):
        assert bulk_set(states[:1200], ["active_since", "value", "labels"]) == 1200
    stored = {s.pk: (s.active_since, s.value, s.labels) for s in RuleState.objects.all()}
    assert stored == {s.pk: (s.active_since, s.value, s.labels) for s in states}
    assert stored[states[1250].pk] == (T0, 1.0, {"n": 1250})  # not in the list: untouched


def test_bulk_set_of_only_nulls_and_of_nothing(db):
    rule = AlertRuleFactory()
    states = RuleState.objects.bulk_create(
        [RuleState(rule=rule, fingerprint=str(i), active_since=T0, value=2.0) for i in range(3)]
    )
    for state in states:
        state.active_since, state.value = None, None
    assert bulk_set(states, ["active_since", "value"]) == 3
    assert set(RuleState.objects.values_list("active_since", "value")) == {(None, None)}
    assert bulk_set([], ["value"]) == 0
