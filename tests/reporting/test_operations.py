"""Operations figures on hand-built data with exact expected numbers."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.alerting.models import Alert, AlertEvent, AlertRule
from monitoring.alerting.models.alerts import EventKind
from monitoring.alerting.models.channels import Delivery
from monitoring.models import HealthCheck, HealthCheckResult
from reporting.operations import alert_figures, noisy_rules, oncall_load, uptime

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SINCE, UNTIL = T0, T0 + timedelta(days=1)
M = timedelta(minutes=1)


def _alert(rule, service, *, at, severity="warning", ack=None, resolved=None, by=None, fp=None):
    alert = Alert.objects.create(
        rule=rule,
        service=service,
        fingerprint=fp or f"fp-{Alert.objects.count()}",
        severity=severity,
        summary="x",
        created_at=at,
        status="resolved" if resolved else ("acknowledged" if ack else "firing"),
        resolved_at=resolved,
        resolved_by=by,
        first_acknowledged_at=min(ack) if ack else None,  # as alert_acknowledge stores it
    )
    AlertEvent.objects.create(alert=alert, kind=EventKind.TRIGGERED, created_at=at)
    for moment in ack or ():
        AlertEvent.objects.create(alert=alert, kind=EventKind.ACKNOWLEDGED, created_at=moment, actor=by)
    return alert


@pytest.fixture
def rules(db):
    return (
        AlertRule.objects.create(name="disk", metric="disk_percent", threshold=90),
        AlertRule.objects.create(name="cpu", metric="cpu_percent", threshold=90),
    )


def test_mtta_and_mttr_per_service_use_the_first_acknowledgement(rules, service, other_service, users):
    disk, cpu = rules
    op = users["operator"]
    start = T0 + timedelta(hours=1)
    # checkout: acks after 2, 4 and 10 minutes (the second one acknowledged twice: first counts).
    _alert(disk, service, at=start, ack=[start + 2 * M], resolved=start + 10 * M, by=op)
    _alert(disk, service, at=start, ack=[start + 4 * M, start + 30 * M], resolved=start + 20 * M, by=op)
    _alert(cpu, service, at=start, ack=[start + 10 * M], resolved=start + 60 * M, by=op)
    _alert(cpu, service, at=start)  # never acknowledged nor resolved
    _alert(cpu, other_service, at=start, severity="critical", ack=[start + 1 * M])
    _alert(cpu, other_service, at=T0 - M, ack=[T0])  # before the period: left out

    rows = {row.key: row for row in alert_figures(since=SINCE, until=UNTIL, by="service")}

    checkout = rows["checkout"]
    assert (checkout.count, checkout.acknowledged, checkout.resolved) == (4, 3, 3)
    assert checkout.mtta_mean == pytest.approx(16 * 60 / 3)
    assert checkout.mtta_median == pytest.approx(4 * 60)
    assert checkout.mttr_mean == pytest.approx(90 * 60 / 3)
    assert checkout.mttr_median == pytest.approx(20 * 60)
    billing = rows["billing"]
    assert (billing.count, billing.mtta_median, billing.mttr_mean, billing.mttr_median) == (1, 60.0, None, None)


def test_medians_of_an_even_count_average_the_middle_two(rules, service):
    disk, _ = rules
    for minutes in (1, 3, 7, 100):
        _alert(disk, service, at=T0, ack=[T0 + minutes * M])
    (row,) = alert_figures(since=SINCE, until=UNTIL, by="rule")
    assert row.key == "disk"
    assert row.mtta_median == pytest.approx(5 * 60)
    assert row.mtta_mean == pytest.approx(111 * 60 / 4)


def test_figures_by_severity_cost_three_queries(rules, service, django_assert_max_num_queries):
    disk, cpu = rules
    for i in range(30):
        _alert(disk if i % 2 else cpu, service, at=T0 + i * M, severity="critical" if i % 3 else "info")
    with django_assert_max_num_queries(3):
        rows = alert_figures(since=SINCE, until=UNTIL, by="severity")
    assert {r.key: r.count for r in rows} == {"critical": 20, "info": 10}


def _check(name, service, **kw):
    return HealthCheck.objects.create(name=name, kind="tcp", service=service, config={"host": "h", "port": 1}, **kw)


def _result(check, status, at):
    HealthCheckResult.objects.create(health_check=check, status=status, created_at=at)


def test_uptime_integrates_time_between_status_changes(db, service, django_assert_max_num_queries):
    api = _check("api", service)
    _result(api, "healthy", T0 - timedelta(days=2))
    _result(api, "unhealthy", T0 + timedelta(hours=6))
    _result(api, "degraded", T0 + timedelta(hours=7))  # degraded is up
    _result(api, "unhealthy", T0 + timedelta(hours=23))  # down until the end: 1 more hour
    db_check = _check("db", service)
    _result(db_check, "unhealthy", T0 - timedelta(hours=1))  # down at the start ...
    _result(db_check, "healthy", T0 + timedelta(hours=3))  # ... for 3 hours
    _result(db_check, "unhealthy", T0 + timedelta(hours=6, minutes=30))  # inside api's down hour
    _result(db_check, "healthy", T0 + timedelta(hours=8))
    late = _check("late", None)
    _result(late, "healthy", T0 + timedelta(hours=12))  # unknown before: 12 known hours

    with django_assert_max_num_queries(3):
        checks, services = uptime(since=SINCE, until=UNTIL)

    by_name = {c.key: c for c in checks}
    assert by_name["api"].percent == pytest.approx(100 * (1 - 2 / 24))
    assert by_name["db"].percent == pytest.approx(100 * (1 - 4.5 / 24))
    assert by_name["late"].known_seconds == 12 * 3600
    assert by_name["late"].percent == 100.0
    # checkout is down while either check is: 0-3h, 6-8h, 23-24h.
    (checkout,) = services
    assert checkout.key == "checkout"
    assert checkout.percent == pytest.approx(100 * (1 - 6 / 24))


def test_noisy_rules_count_fire_cycles_quick_auto_resolves_and_flapping(rules, service, users):
    disk, cpu = rules
    for i in range(3):  # disk flaps on one label set: 3 alerts resolved by the evaluator in 2 minutes
        at = T0 + i * timedelta(hours=1)
        _alert(disk, service, at=at, resolved=at + 2 * M, fp="disk-root")
    slow = _alert(disk, service, at=T0 + timedelta(hours=5), resolved=T0 + timedelta(hours=6), fp="disk-var")
    AlertEvent.objects.create(alert=slow, kind=EventKind.REOPENED, created_at=T0 + timedelta(hours=7))
    _alert(cpu, service, at=T0, resolved=T0 + M, by=users["operator"])  # a person closed it: not counted

    found = noisy_rules(since=SINCE, until=UNTIL, quick=timedelta(minutes=5), flap_cycles=3)

    assert [(r.rule, r.fired, r.auto_resolved_quickly, r.flapping_streams, r.max_cycles) for r in found] == [
        ("disk", 5, 3, 1, 3),
        ("cpu", 1, 0, 0, 1),
    ]


def test_oncall_load_counts_acknowledgements_and_night_pages(rules, service, users, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in March before DST
    disk, _ = rules
    op, admin = users["operator"], users["admin"]
    alert = _alert(disk, service, at=T0, ack=[T0 + M], by=op)
    _alert(disk, service, at=T0, ack=[T0 + 2 * M], by=op)
    for hour in (5, 6, 12, 21):  # local 06:00, 07:00, 13:00, 22:00: two at night
        Delivery.objects.create(
            alert=alert, user=admin, event="trigger", status="sent", sent_at=T0 + timedelta(hours=hour)
        )
    Delivery.objects.create(alert=alert, user=admin, event="trigger", status="failed", sent_at=T0)

    found = {p.person: p for p in oncall_load(since=SINCE, until=UNTIL)}

    assert (found["operator"].acknowledgements, found["operator"].pages) == (2, 0)
    assert (found["admin"].pages, found["admin"].night_pages) == (4, 2)
