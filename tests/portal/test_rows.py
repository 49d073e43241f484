"""portal.lib.rows: the shared bulk writer and item helpers of the ingest endpoints."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, connection, transaction

from portal.lib.rows import FieldError, ItemError, TableWriter, parse_time, sqlite_time
from portal.models import Service

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_parse_time_reads_iso_epoch_and_aware_datetimes_as_utc():
    plus_one = timezone(timedelta(hours=1))
    assert parse_time("2026-03-02T13:00:00+01:00", now=NOW) == NOW
    assert parse_time(NOW.timestamp(), now=NOW) == NOW
    assert parse_time(datetime(2026, 3, 2, 13, tzinfo=plus_one), now=NOW) == NOW
    assert parse_time(None, now=NOW) is NOW
    for bad in ("2026-03-02T12:00:00", "soon", 1e300, [1], datetime(2026, 3, 2)):
        with pytest.raises(FieldError) as exc:
            parse_time(bad, now=NOW, field="at")
        assert exc.value.field == "at"


def test_item_errors_name_their_list():
    assert ItemError(3, "name", "is required", prefix="events").as_dict()["field"] == "events[3].name"
    assert ItemError(0, "value", "x").as_dict()["field"] == "samples[0].value"


@pytest.mark.django_db(transaction=True)
def test_the_writer_inserts_rows_and_reports_unique_violations_as_integrity_errors():
    writer = TableWriter(
        Service._meta.db_table, ("name", "slug", "description", "created_at"), time_column="created_at"
    )
    assert writer.write([("A", "a", "", NOW), ("B", "b", "", NOW + timedelta(hours=1))]) == 2
    assert dict(Service.objects.values_list("slug", "created_at")) == {"a": NOW, "b": NOW + timedelta(hours=1)}
    with pytest.raises(IntegrityError), transaction.atomic():
        writer.write([("A again", "a", "", NOW)])
    assert Service.objects.count() == 2
    if connection.vendor == "sqlite":
        assert sqlite_time(NOW) == "2026-03-02 12:00:00"
