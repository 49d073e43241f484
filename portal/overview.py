"""What the home page reads to answer "is anything wrong?": open alerts, checks that are not
healthy, each service's worst status, and whether the workers run.

A fixed number of grouped queries whatever the number of alerts, checks and services: counts
come from GROUP BY queries, lists are capped.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Case, Count, Value, When
from django_q.models import Schedule, Success

from monitoring.alerting.models import Alert, AlertStatus, Severity
from monitoring.healthchecks import status as health
from monitoring.models import HealthCheck, HealthStatus
from portal.models import Service

NEWEST_ALERTS = 5
PROBLEM_CHECKS = 10
# Unknown (no enabled check has a result and no alert is open) ranks below every status.
UNKNOWN = "unknown"
RANK = {UNKNOWN: -1, **health.RANK}
# An open alert colours its service like a check would: critical = unhealthy, warning = degraded.
ALERT_STATUS = {Severity.CRITICAL: HealthStatus.UNHEALTHY, Severity.WARNING: HealthStatus.DEGRADED}
SEVERITIES = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
# The worker heartbeat schedule (portal.tasks.ping) finishes a task every minute while workers run.
WORKERS_QUIET_AFTER = timedelta(minutes=2)


def _status_rank() -> Case:
    """A check's status as its rank, for ordering in SQL: the failing checks first."""
    return Case(*(When(last_status=s, then=Value(r)) for s, r in health.RANK.items()), default=Value(-1))


@dataclass
class ServiceState:
    service: Service
    status: str = UNKNOWN
    firing: int = 0
    acknowledged: int = 0
    checks: dict[str, int] = field(default_factory=dict)  # last_status -> count of enabled checks

    def see(self, status: str) -> None:
        if RANK[status] > RANK[self.status]:
            self.status = status

    @property
    def unhealthy(self) -> int:
        return self.checks.get(HealthStatus.UNHEALTHY, 0)

    @property
    def degraded(self) -> int:
        return self.checks.get(HealthStatus.DEGRADED, 0)


@dataclass
class Overview:
    alerts_by_severity: list[tuple[str, int, int]]  # (severity, firing, acknowledged)
    alerts_open: int
    newest_alerts: list[Alert]
    problem_checks: list[HealthCheck]
    checks_unhealthy: int
    checks_degraded: int
    services: list[ServiceState]


def overview_build() -> Overview:
    states = {s.pk: ServiceState(s) for s in Service.objects.order_by("name").only("pk", "name", "slug")}
    by_severity: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    opened = Alert.objects.open().values_list("service_id", "severity", "status").annotate(n=Count("id"))
    for service_id, severity, status, n in opened.order_by():
        by_severity[severity][status] += n
        state = states.get(service_id)
        if state is not None:
            setattr(state, status, getattr(state, status) + n)
            state.see(ALERT_STATUS.get(severity, HealthStatus.HEALTHY))
    checked = HealthCheck.objects.filter(enabled=True).values_list("service_id", "last_status").annotate(n=Count("id"))
    totals: dict[str, int] = defaultdict(int)
    for service_id, status, n in checked.order_by():
        totals[status] += n
        state = states.get(service_id)
        if state is not None and status:  # "" = not run yet
            state.checks[status] = state.checks.get(status, 0) + n
            state.see(status)
    severities = [
        (s, by_severity[s][AlertStatus.FIRING], by_severity[s][AlertStatus.ACKNOWLEDGED])
        for s in SEVERITIES
        if s in by_severity
    ]
    problems = HealthCheck.objects.filter(
        enabled=True, last_status__in=[HealthStatus.UNHEALTHY, HealthStatus.DEGRADED]
    ).select_related("service")
    return Overview(
        alerts_by_severity=severities,
        alerts_open=sum(f + a for _, f, a in severities),
        newest_alerts=list(
            Alert.objects.open().select_related("service").order_by("-created_at", "-id")[:NEWEST_ALERTS]
        ),
        problem_checks=list(problems.order_by(_status_rank().desc(), "service__name", "name")[:PROBLEM_CHECKS]),
        checks_unhealthy=totals[HealthStatus.UNHEALTHY],
        checks_degraded=totals[HealthStatus.DEGRADED],
        services=sorted(states.values(), key=lambda s: (-RANK[s.status], s.service.name)),
    )


@dataclass
class Workers:
    last_task_at: datetime | None
    running: bool
    schedules: int


def workers_state(*, now: datetime) -> Workers:
    """Whether the django-q2 cluster runs, judged by the last task it finished."""
    last = Success.objects.order_by("-stopped").values_list("stopped", flat=True).first()
    return Workers(
        last_task_at=last,
        running=last is not None and now - last < WORKERS_QUIET_AFTER,
        schedules=Schedule.objects.count(),
    )
