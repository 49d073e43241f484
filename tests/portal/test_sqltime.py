"""UtcDate: the UTC calendar day of a date-time, computed by the database (SQLite and
PostgreSQL alike), whatever TIME_ZONE says."""

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings

from portal.lib.sqltime import UtcDate
from portal.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_the_day_is_the_utc_day(service, zone):
    times = [
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),  # late in Kolkata's next day
        datetime(2026, 3, 2, 0, 0, tzinfo=UTC),  # still 1 March in St John's
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # North American DST starts that night
    ]
    with override_settings(TIME_ZONE=zone):
        for i, at in enumerate(times):
            Deployment.objects.create(service=service, version=str(i), created_at=at)
        days = list(
            Deployment.objects.annotate(day=UtcDate("created_at")).order_by("version").values_list("day", flat=True)
        )
    assert days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 8)]
