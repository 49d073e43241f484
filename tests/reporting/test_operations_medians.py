"""MTTA/MTTR medians come from histograms: only the values in the bucket(s) holding each
group's middle are fetched. They must equal the median of all the values, wherever the middle
falls: on a bucket edge, between two buckets, among ties, below zero."""

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.alerting.lifecycle import alert_acknowledge, alert_fire, alert_reopen, alert_resolve
from monitoring.alerting.models import Alert, AlertRule
from reporting.operations import alert_figures

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=2)


def _durations(rng: random.Random, n: int) -> list[float]:
    """Seconds to the millisecond, mixed to hit the awkward cases of two-significant-digit buckets."""
    kinds = [
        lambda: round(rng.uniform(0, 900), 3),
        lambda: 60.0,  # many ties
        lambda: round(rng.uniform(99.94, 99.96), 3),  # on the 9.9e+01 / 1.0e+02 edge
        lambda: round(rng.uniform(0.0, 0.01), 3),  # zero and sub-second
        lambda: round(rng.uniform(3000, 90000), 3),
        lambda: -round(rng.uniform(0, 5), 3),  # a clock skew: written before it was created
    ]
    return [rng.choice(kinds)() for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_medians_equal_the_median_of_every_value(db, service, other_service, seed):
    rng = random.Random(seed)
    rule = AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90)
    expected = {}
    rows = []
    for group, n in (("checkout", 1 + rng.randrange(200)), ("billing", 1 + rng.randrange(200)), ("", 1)):
        on = {"checkout": service, "billing": other_service}.get(group)
        acks, fixes = _durations(rng, n), _durations(rng, n)
        acks = [a if rng.random() < 0.8 else None for a in acks]
        fixes = [f if rng.random() < 0.6 else None for f in fixes]
        for i, (ack, fix) in enumerate(zip(acks, fixes, strict=True)):
            created = T0 + timedelta(seconds=i)
            rows.append(
                Alert(
                    rule=rule,
                    service=on,
                    fingerprint=f"{group}-{i}",
                    summary="x",
                    created_at=created,
                    status="resolved" if fix is not None else "firing",
                    first_acknowledged_at=None if ack is None else created + timedelta(seconds=ack),
                    resolved_at=None if fix is None else created + timedelta(seconds=fix),
                )
            )
        acked = [a for a in acks if a is not None]
        fixed = [f for f in fixes if f is not None]
        expected[group] = (
            n,
            len(acked),
            len(fixed),
            statistics.median(acked) if acked else None,
            statistics.median(fixed) if fixed else None,
            statistics.fmean(acked) if acked else None,
        )
    Alert.objects.bulk_create(rows)

    found = {r.key: r for r in alert_figures(since=SINCE, until=UNTIL, by="service")}

    assert set(found) == set(expected)
    for group, (count, acknowledged, resolved, mtta_median, mttr_median, mtta_mean) in expected.items():
        row = found[group]
        assert (row.count, row.acknowledged, row.resolved) == (count, acknowledged, resolved), group
        assert (row.mtta_median, row.mttr_median) == (mtta_median, mttr_median), group
        assert row.mtta_mean == (None if mtta_mean is None else pytest.approx(mtta_mean)), group


def test_mtta_through_the_transitions_is_the_first_acknowledgement(db, service, users):
    rule = AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90)
    op, m = users["operator"], timedelta(minutes=1)
    alert, _ = alert_fire(rule=rule, fingerprint="a", labels={}, value=1.0, summary="x", service=service, now=T0)
    alert_acknowledge(alert=alert, by=op, via="page", now=T0 + 3 * m)
    alert_resolve(alert=alert, by=op, via="page", now=T0 + 10 * m)
    alert_reopen(alert=alert, by=op, via="page", now=T0 + 20 * m)
    alert_acknowledge(alert=alert, by=op, via="page", now=T0 + 21 * m)
    alert_resolve(alert=alert, by=op, via="page", now=T0 + 40 * m)

    (row,) = alert_figures(since=SINCE, until=UNTIL, by="rule")

    assert (row.key, row.count, row.acknowledged, row.resolved) == ("disk", 1, 1, 1)
    assert (row.mtta_mean, row.mtta_median) == (180.0, 180.0)
    assert (row.mttr_mean, row.mttr_median) == (2400.0, 2400.0)


def test_no_alerts_no_rows_in_one_query_less(db, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # no middle to fetch
        assert alert_figures(since=SINCE, until=UNTIL) == []
