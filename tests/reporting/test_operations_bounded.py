"""The medians fetch a few rows per group whatever the data: among 3,000 identical durations
(one histogram bucket holding them all) only the one or two values at the middle come back,
and other groups' alerts in the same bucket do not."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.alerting.models import Alert
from reporting import operations
from reporting.operations import alert_figures

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=2)


@pytest.fixture
def fetched(monkeypatch):
    """Every row the median query returns, as the function iterates them."""
    rows = []
    middle_rows = operations._middle_rows

    def counting(*args, **kwargs):
        found = middle_rows(*args, **kwargs)
        if found is not None:
            rows.extend(found)
        return rows

    monkeypatch.setattr(operations, "_middle_rows", counting)
    return rows


def _alerts(services: list, n: int, *, ack: float, fix: float) -> None:
    rows = []
    for i in range(n):
        created = T0 + timedelta(seconds=i)
        rows.append(
            Alert(
                service=services[i % len(services)],
                fingerprint=f"f{i}",
                summary="x",
                created_at=created,
                status="resolved",
                first_acknowledged_at=created + timedelta(seconds=ack),
                resolved_at=created + timedelta(seconds=fix),
            )
        )
    Alert.objects.bulk_create(rows)


def test_identical_durations_fetch_a_few_rows_per_group(
    db, service, other_service, fetched, django_assert_max_num_queries
):
    _alerts([service, other_service], 3000, ack=60, fix=300)

    with django_assert_max_num_queries(3):
        found = {r.key: r for r in alert_figures(since=SINCE, until=UNTIL, by="service")}

    assert {k: (r.count, r.mtta_median, r.mttr_median) for k, r in found.items()} == {
        service.slug: (1500, 60.0, 300.0),
        other_service.slug: (1500, 60.0, 300.0),
    }
    # Even counts: ranks 750 and 751 of each group, both measures on the same rows at most.
    assert 0 < len(fetched) <= 2 * 2 * 2
    assert {row[0] for row in fetched} == {service.slug, other_service.slug}


def test_odd_count_among_ties_fetches_one_row(db, service, fetched):
    _alerts([service], 3001, ack=60, fix=300)

    (row,) = alert_figures(since=SINCE, until=UNTIL, by="service")

    assert (row.count, row.mtta_median, row.mttr_median) == (3001, 60.0, 300.0)
    assert len(fetched) == 1  # rank 1501 in the one bucket, for both measures


def test_groups_past_max_rows_are_not_fetched(db, service, other_service, fetched, monkeypatch):
    monkeypatch.setattr(operations, "MAX_ROWS", 1)
    _alerts([service, service, other_service], 30, ack=60, fix=300)

    figures = alert_figures(since=SINCE, until=UNTIL, by="service")

    assert [(r.key, r.count, r.mttr_median) for r in figures] == [(service.slug, 20, 300.0)]
    assert {row[0] for row in fetched} == {service.slug}
