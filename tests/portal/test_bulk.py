"""full_batches: one INSERT for a thousand rows on SQLite too, and nothing changed after it."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import MetricSample
from portal.lib.bulk import chunks, full_batches

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
