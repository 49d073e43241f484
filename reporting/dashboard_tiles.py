"""The overview dashboard's tiles fed by the other apps: error groups, technical debt, feature
use, maintenance and vulnerabilities. Same rules as reporting/dashboard.py: stored results and
rollups, grouped queries, capped lists, an empty state when an app has no data.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum

from analytics import performance
from analytics.models import FeatureHourRollup, UsageEvent
from analytics.rollups import folded_id
from codehealth.models import CodeRepository, CodeScan
from maintenance.models import MaintenanceRun, RunStatus
from maintenance.summary import open_vulnerabilities
from monitoring.errors.models import ActivityKind, ErrorGroup, ErrorGroupActivity, ErrorGroupHour
from monitoring.query import step_start
from reporting.dashboard import Span, step_buckets

LIST_MAX = 5  # rows per tile list; each tile links to the page with the rest
REPOSITORIES_MAX = 10
# Runs that did not do what they were asked to.
FAILED_RUNS = (RunStatus.FAILED, RunStatus.ROLLED_BACK, RunStatus.PARTIAL)

# --- Error groups ---------------------------------------------------------------------------


@dataclass
class ErrorFigures:
    new: int
    newest: list[ErrorGroup]  # the most seen of the new groups
    regressed: int
    regressions: list[ErrorGroupActivity]  # the latest, with their group


def error_figures(span: Span) -> ErrorFigures:
    """Groups first seen in the range and groups that regressed in it (four queries)."""
    new = ErrorGroup.objects.filter(first_seen__gte=span.since, first_seen__lt=span.until, merged_into__isnull=True)
    regressed = ErrorGroupActivity.objects.filter(
        kind=ActivityKind.REGRESSED, created_at__gte=span.since, created_at__lt=span.until
    )
    return ErrorFigures(
        new=new.count(),
        newest=list(new.select_related("service").order_by("-times_seen", "-id")[:LIST_MAX]),
        regressed=regressed.values("group_id").distinct().count(),
        regressions=list(regressed.select_related("group__service").order_by("-created_at", "-id")[:LIST_MAX]),
    )


def error_event_series(span: Span) -> tuple[list[datetime], list[int]]:
    """Error events per chart step from the per-group hour counts (never a count of events).
    Only hours that start inside the range count: the hour holding the range's start also holds
    events from before it (up to 59 minutes on the 1h range). Steps shorter than an hour get the
    hour's events at the step the hour starts in."""
    buckets = step_buckets(span)
    step = max(span.step, 3600)
    first_hour = step_start(span.since, 3600)
    if first_hour < span.since:
        first_hour += timedelta(hours=1)
    counts: dict[datetime, int] = {}
    rows = (
        ErrorGroupHour.objects.filter(hour__gte=first_hour, hour__lt=span.until)
        .values_list("hour")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for hour, n in rows:
        at = step_start(hour, step)
        counts[at] = counts.get(at, 0) + n
    return buckets, [counts.get(b, 0) for b in buckets]


# --- Technical debt -------------------------------------------------------------------------


@dataclass
class RepositoryDebt:
    repository: CodeRepository
    now: int | None  # debt items at the latest finished scan
    before: int | None  # at the latest scan finished before the range

    @property
    def change(self) -> int | None:
        return None if self.now is None or self.before is None else self.now - self.before


@dataclass
class DebtFigures:
    repositories: list[RepositoryDebt]
    total: int
    change: int | None


def debt_figures(span: Span) -> DebtFigures:
    """Each repository's debt at its latest scan and at the last scan before the range, from the
    scans' stored counts (one query, two correlated lookups along the scan index); the totals
    over every repository, not only the listed ones (one aggregate of the same lookups)."""
    done = CodeScan.objects.filter(repository=OuterRef("pk"), status=CodeScan.Status.SUCCEEDED).order_by("-id")
    repositories = CodeRepository.objects.annotate(
        debt_now=Subquery(done.values("debt_count")[:1]),
        debt_before=Subquery(done.filter(finished_at__lt=span.since).values("debt_count")[:1]),
    )
    rows = [RepositoryDebt(r, r.debt_now, r.debt_before) for r in repositories.order_by("name")[:REPOSITORIES_MAX]]
    # SUM skips NULLs: a repository without a scan adds nothing, one without a scan before the
    # range adds nothing to the change.
    totals = repositories.aggregate(total=Sum("debt_now"), change=Sum(F("debt_now") - F("debt_before")))
    return DebtFigures(repositories=rows, total=totals["total"] or 0, change=totals["change"])


# --- Features --------------------------------------------------------------------------------


@dataclass
class FeatureUse:
    name: str
    count: int
    errors: int


@dataclass
class FeatureFigures:
    used: int
    top: list[FeatureUse]


def feature_figures(span: Span) -> FeatureFigures:
    """The most used tracked features in the range, every service together, counted as
    analytics.performance counts them (its window, hour rollups plus the events not folded
    yet) but summed by the database: its feature_accs reads every rollup's sketch and error
    types, which a count does not need (30 days of 100 features is 72k rollup rows)."""
    window = performance.Window(span.since, span.until).counted()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    in_window = Q(time__gte=window.since, time__lt=window.until)
    events = UsageEvent.objects.filter(in_window)
    if not window.raw:
        watermark = folded_id()  # first, as analytics.performance reads it
        rollups = FeatureHourRollup.objects.filter(hour__gte=window.since, hour__lt=window.until)
        for name, uses, failed in rollups.values_list("name").annotate(n=Sum("count"), failed=Sum("errors")).order_by():
            totals[name][0] += uses
            totals[name][1] += failed
        # The events not folded yet are the newest ids: the window is a condition on the count,
        # not a filter, so the database walks the ids above the watermark instead of the time
        # index over the whole window (30 days is every event).
        events = UsageEvent.objects.filter(id__gt=watermark)
    failed_in_window = Q(in_window, success=False)
    counted = events.values_list("name").annotate(
        n=Count("id", filter=in_window), failed=Count("id", filter=failed_in_window)
    )
    for name, uses, failed in counted.order_by():
        if uses:
            totals[name][0] += uses
            totals[name][1] += failed
    top = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))[:LIST_MAX]
    return FeatureFigures(used=len(totals), top=[FeatureUse(name, uses, failed) for name, (uses, failed) in top])


# --- Maintenance ----------------------------------------------------------------------------


@dataclass
class MaintenanceFigures:
    runs_by_status: dict[str, int]  # runs created in the range
    failed: int
    pending: int  # runs waiting for approval, whenever created
    waiting: list[MaintenanceRun]
    latest: list[MaintenanceRun]
    vulnerabilities: list[dict]  # capped; reachable first
    vulnerable: int
    reachable: int
    incomplete_audits: int

    @property
    def runs(self) -> int:
        return sum(self.runs_by_status.values())


def maintenance_figures(span: Span) -> MaintenanceFigures:
    """Runs in the range by status, the runs waiting for approval, the latest runs, and the open
    vulnerabilities of each environment's latest audit."""
    by_status = dict(
        MaintenanceRun.objects.filter(created_at__gte=span.since, created_at__lt=span.until)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    waiting = MaintenanceRun.objects.filter(status=RunStatus.WAITING_APPROVAL)
    found = open_vulnerabilities()
    vulns = found["vulnerabilities"]
    return MaintenanceFigures(
        runs_by_status=by_status,
        failed=sum(by_status.get(s, 0) for s in FAILED_RUNS),
        pending=waiting.count(),
        waiting=list(waiting.select_related("task").order_by("created_at", "id")[:LIST_MAX]),
        latest=list(MaintenanceRun.objects.select_related("task").order_by("-created_at", "-id")[:LIST_MAX]),
        vulnerabilities=vulns[:LIST_MAX],
        vulnerable=len(vulns),
        reachable=sum(1 for v in vulns if v["reachable"]),
        incomplete_audits=found["incomplete_environments"],
    )
