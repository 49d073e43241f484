"""Operations figures over a period [since, until): alert counts with MTTA/MTTR, uptime of
health checks and services, noisy rules and on-call load.

Read from the alerting and monitoring models with a fixed number of queries whatever the
number of alerts, and no loop over every alert in Python: the rows fetched are bounded by the
number of groups (and histogram buckets), not by the number of alerts.

MTTA is first acknowledgement - creation (`Alert.first_acknowledged_at`, kept through an
unacknowledge or a reopen). MTTR is resolution - creation for alerts resolved now.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    CharField,
    Count,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Concat, RowNumber

from monitoring.alerting.models import Alert, AlertEvent, AlertStatus
from monitoring.alerting.models.alerts import EventKind
from monitoring.alerting.models.channels import Delivery, DeliveryStatus
from monitoring.healthchecks.status import UNHEALTHY
from monitoring.models import HealthCheck, HealthCheckResult
from portal.lib.sqltime import SecondsBetween

GROUPINGS = {"service": "service__slug", "severity": "severity", "rule": "rule__name"}
MAX_PERIOD = timedelta(days=366)
MAX_ROWS = 500  # groups, rules or people in one answer
NIGHT_HOURS = (22, 7)  # local 22:00-07:00 counts as a night page
MEASURES = {"tta": "first_acknowledged_at", "ttr": "resolved_at"}  # each measure's end


@dataclass
class AlertFigures:
    key: str
    count: int = 0
    acknowledged: int = 0
    resolved: int = 0
    mtta_mean: float | None = None  # seconds
    mtta_median: float | None = None
    mttr_mean: float | None = None
    mttr_median: float | None = None


class Bucket(Func):
    """A number rounded to two significant digits, as the database writes it ("3.6e+03"): a
    histogram bucket about 1-10 % wide at any scale. Rounding never reorders values, so the
    buckets sorted by their number hold the values in order. Computed the same way in every
    query of one answer, so a value is found again in the bucket it was counted in."""

    arity = 1
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="printf('%%%%.1e', %(expressions)s)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="to_char(%(expressions)s, '9.9EEEE')", **extra)


def _alerts(since: datetime, until: datetime, key: str):
    return Alert.objects.filter(created_at__gte=since, created_at__lt=until).annotate(
        group=Coalesce(F(key), Value("")),
        tta=SecondsBetween(F("first_acknowledged_at"), F("created_at")),
        ttr=SecondsBetween(F("resolved_at"), F("created_at")),
    )


@dataclass
class _Histogram:
    """One measure of one group: values counted per bucket, for the mean and the median."""

    counts: dict[str, int] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)  # per-bucket sums

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    def mean(self) -> float | None:
        return math.fsum(self.total) / self.size if self.size else None

    def middle(self) -> dict[str, list[int]]:
        """The bucket(s) holding the middle one or two values, with their 0-based positions
        inside the bucket."""
        n, seen, wanted = self.size, 0, {}
        positions = [(n - 1) // 2, n // 2]
        for bucket in sorted(self.counts, key=float):
            count = self.counts[bucket]
            for position in positions:
                if seen <= position < seen + count:
                    wanted.setdefault(bucket, []).append(position - seen)
            seen += count
        return wanted


def _histograms(alerts, measure: str, totals: dict[str, int] | None) -> dict[str, _Histogram]:
    """Counts and sums of `measure` per group and bucket: one GROUP BY query, no ranking of the
    alerts by duration. Also counts every alert per group into `totals` when given."""
    found: dict[str, _Histogram] = defaultdict(_Histogram)
    rows = (
        alerts.annotate(bucket=Bucket(F(measure)))
        .values("group", "bucket")
        # Counting the end column, not the measure, spares the database one more date parsing per row.
        .annotate(n=Count(MEASURES[measure]), sum=Sum(measure), alerts=Count("pk"))
        .order_by()
    )
    for row in rows:
        if totals is not None:
            totals[row["group"]] = totals.get(row["group"], 0) + row["alerts"]
        if row["n"]:  # SQLite's printf writes a NULL as 0: its alerts count, its values do not
            histogram = found[row["group"]]
            histogram.counts[row["bucket"]] = row["n"]
            histogram.total.append(row["sum"])
    return found


KEY_SEPARATOR = "\x1f"  # between group, bucket and rank in a fetched row's key: not in a bucket nor a rank


def _middle_rows(alerts, wanted: dict[str, dict[str, dict[str, list[int]]]]):
    """The one or two values each group's median needs, and no others: one query for both
    measures. Inside the middle bucket(s) the values are ranked by the database
    (ROW_NUMBER per group and bucket), and only the ranks the histogram counts point at are
    returned, so the rows fetched stay at most two per group and measure however many alerts
    share a bucket, ties included. Rows: (group, tta, tta bucket, tta rank, ttr, ...)."""
    annotations, near, picked = {}, Q(), Q()
    for measure in MEASURES:
        keys = [
            KEY_SEPARATOR.join((group, bucket, str(position + 1)))
            for group, middle in wanted[measure].items()
            for bucket, positions in middle.items()
            for position in positions
        ]
        if not keys:
            continue
        bucket = f"{measure}_bucket"
        annotations[bucket] = Bucket(F(measure))
        # NULLs last: the values (ranks 1..count) are numbered as the histogram counted them.
        annotations[f"{measure}_rank"] = Window(
            RowNumber(), partition_by=[F("group"), F(bucket)], order_by=[F(measure).asc(nulls_last=True), F("pk")]
        )
        annotations[f"{measure}_key"] = Concat(
            F("group"),
            Value(KEY_SEPARATOR),
            F(bucket),
            Value(KEY_SEPARATOR),
            F(f"{measure}_rank"),
            output_field=CharField(),
        )
        buckets = sorted({b for middle in wanted[measure].values() for b in middle})
        near |= Q(**{f"{bucket}__in": buckets})
        picked |= Q(**{f"{measure}_key__in": keys})
    if not annotations:
        return None
    groups = sorted({group for measure in MEASURES for group in wanted[measure]})
    fields = [f for m in MEASURES for f in (m, f"{m}_bucket", f"{m}_rank") if f"{m}_rank" in annotations]
    return (
        # Only the kept groups' alerts in a middle bucket are ranked (WHERE), only the wanted
        # ranks come back (filtered around the window functions, in SQL too).
        alerts.filter(group__in=groups)
        .annotate(**annotations)
        .filter(near)
        .filter(picked)
        .values_list("group", *fields)
        .order_by()
    )


def _medians(alerts, histograms: dict[str, dict[str, _Histogram]]) -> dict[str, dict[str, float]]:
    """Exact medians from the one or two values at each group's middle, fetched by rank
    (`_middle_rows`); the median of an even count is the mean of the middle two."""
    wanted = {
        measure: {group: h.middle() for group, h in per_group.items()} for measure, per_group in histograms.items()
    }
    rows = _middle_rows(alerts, wanted)
    if rows is None:
        return {m: {} for m in MEASURES}
    measures = [m for m in MEASURES if any(wanted[m].values())]
    found: dict[tuple[str, str, str, int], float] = {}
    for group, *columns in rows:
        for i, measure in enumerate(measures):
            value, bucket, rank = columns[3 * i : 3 * i + 3]
            if value is not None and bucket in wanted[measure].get(group, ()):
                found[measure, group, bucket, rank] = value
    medians: dict[str, dict[str, float]] = {m: {} for m in MEASURES}
    for measure in measures:
        for group, middle in wanted[measure].items():
            picked = [found[measure, group, bucket, p + 1] for bucket, positions in middle.items() for p in positions]
            medians[measure][group] = sum(picked) / len(picked)
    return medians


def alert_figures(*, since: datetime, until: datetime, by: str = "service") -> list[AlertFigures]:
    """Alerts created in the period, per service, severity or rule ("" when none). Three queries:
    a histogram per measure (counts and means come from them too), then the one or two values at
    the middle of each for the medians, for the first MAX_ROWS groups by count only."""
    alerts = _alerts(since, until, GROUPINGS[by])
    totals: dict[str, int] = {}
    histograms = {"tta": _histograms(alerts, "tta", totals), "ttr": _histograms(alerts, "ttr", None)}
    # Only the groups shown get a median: the median query asks for these groups alone.
    kept = sorted(totals, key=lambda group: (-totals[group], group))[:MAX_ROWS]
    medians = _medians(alerts, {m: {g: h[g] for g in kept if g in h} for m, h in histograms.items()})
    figures = []
    for group in kept:
        count = totals[group]
        acks, fixes = histograms["tta"].get(group, _Histogram()), histograms["ttr"].get(group, _Histogram())
        figures.append(
            AlertFigures(
                key=group,
                count=count,
                acknowledged=acks.size,
                resolved=fixes.size,
                mtta_mean=acks.mean(),
                mtta_median=medians["tta"].get(group),
                mttr_mean=fixes.mean(),
                mttr_median=medians["ttr"].get(group),
            )
        )
    return figures


# --- uptime ---------------------------------------------------------------------------------


@dataclass
class Uptime:
    key: str  # check name, or service slug
    service: str = ""
    known_seconds: float = 0.0
    down_seconds: float = 0.0
    check_id: int | None = None
    down_spans: list[tuple[datetime, datetime]] = field(default_factory=list, repr=False)

    @property
    def percent(self) -> float | None:
        if self.known_seconds <= 0:
            return None
        return 100.0 * (1 - self.down_seconds / self.known_seconds)


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(spans) -> float:
    return sum((end - start).total_seconds() for start, end in spans)


def uptime(*, since: datetime, until: datetime) -> tuple[list[Uptime], list[Uptime]]:
    """Per enabled health check and per service: the share of the period that was not unhealthy.

    Results are stored only on change, so the status holds from one row to the next and the
    down time is integrated exactly between changes. The status before the first row on record
    is unknown and left out of the known time. A service is down while any of its checks is.
    Three queries: checks with the last status before `since`, then the changes inside."""
    before = (
        HealthCheckResult.objects.filter(health_check=OuterRef("pk"), created_at__lt=since)
        .order_by("-created_at", "-id")
        .values("status")[:1]
    )
    checks = list(
        HealthCheck.objects.filter(enabled=True)
        .select_related("service")
        .annotate(status_before=Subquery(before))
        .order_by("name", "pk")[:MAX_ROWS]
    )
    changes: dict[int, list] = defaultdict(list)
    rows = HealthCheckResult.objects.filter(
        health_check__in=[c.pk for c in checks], created_at__gte=since, created_at__lt=until
    ).order_by("created_at", "id")
    for check_id, at, status in rows.values_list("health_check_id", "created_at", "status"):
        changes[check_id].append((at, status))

    per_check, per_service = [], defaultdict(lambda: ([], []))  # slug -> (known spans, down spans)
    for check in checks:
        status, start, found = check.status_before, since, changes.get(check.pk, [])
        if status is None and found:
            start = found[0][0]  # unknown until the first change on record
        elif status is None and check.last_status:
            # No change on record at all: the status the last run found has held (its flip was pruned).
            status, start = check.last_status, max(since, check.created_at)
        moment, down = start, []
        for at, new in found:
            if status == UNHEALTHY:
                down.append((moment, at))
            status, moment = new, at
        if status == UNHEALTHY and moment < until:
            down.append((moment, until))
        known = [(start, until)] if status is not None and start < until else []
        slug = check.service.slug if check.service_id else ""
        per_check.append(Uptime(check.name, slug, _length(known), _length(down), check_id=check.pk, down_spans=down))
        if slug:
            per_service[slug][0].extend(known)
            per_service[slug][1].extend(down)
    services = [
        Uptime(slug, slug, _length(_union(known)), _length(_union(down)))
        for slug, (known, down) in sorted(per_service.items())
    ]
    return per_check, services


# --- noisy rules ----------------------------------------------------------------------------


@dataclass
class NoisyRule:
    rule: str
    fired: int  # alerts opened + reopened in the period
    auto_resolved_quickly: int  # closed by the evaluator within `quick` of firing
    flapping_streams: int  # label sets that fired at least `flap_cycles` times
    max_cycles: int


def noisy_rules(
    *, since: datetime, until: datetime, quick: timedelta = timedelta(minutes=5), flap_cycles: int = 3
) -> list[NoisyRule]:
    """Rules by how often they fired. A fire cycle is a TRIGGERED or REOPENED event; a label set
    (fingerprint) with `flap_cycles` or more in the period is flapping. Two queries."""
    fires = Q(kind__in=[EventKind.TRIGGERED, EventKind.REOPENED])
    streams = (
        AlertEvent.objects.filter(fires, created_at__gte=since, created_at__lt=until, alert__rule__isnull=False)
        .values("alert__rule__name", "alert__fingerprint")
        .annotate(cycles=Count("pk"))
    )
    per_rule: dict[str, list[int]] = defaultdict(list)
    for row in streams.iterator():
        per_rule[row["alert__rule__name"]].append(row["cycles"])
    quick_rows = (
        Alert.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            rule__isnull=False,
            status=AlertStatus.RESOLVED,
            resolved_by__isnull=True,  # the evaluator resolves with no person
            resolved_at__lte=F("created_at") + quick,
        )
        .values("rule__name")
        .annotate(n=Count("pk"))
    )
    quickly = {row["rule__name"]: row["n"] for row in quick_rows}
    found = [
        NoisyRule(
            rule=name,
            fired=sum(cycles),
            auto_resolved_quickly=quickly.get(name, 0),
            flapping_streams=sum(1 for c in cycles if c >= flap_cycles),
            max_cycles=max(cycles),
        )
        for name, cycles in per_rule.items()
    ]
    found.sort(key=lambda r: (-r.fired, -r.flapping_streams, r.rule))
    return found[:MAX_ROWS]


# --- on-call load ---------------------------------------------------------------------------


@dataclass
class OnCallLoad:
    person: str
    acknowledgements: int = 0
    pages: int = 0
    night_pages: int = 0


def is_night(moment: datetime, zone: ZoneInfo) -> bool:
    hour = moment.astimezone(zone).hour
    start, end = NIGHT_HOURS
    return hour >= start or hour < end


def oncall_load(*, since: datetime, until: datetime) -> list[OnCallLoad]:
    """Per person: acknowledgements made and notifications sent to them (pages), with those
    sent at night. People have no time zone of their own in the portal, so night is judged in
    the portal's TIME_ZONE. Two queries; the pages are grouped by person and local hour in
    Python from (user, sent_at) pairs, which the period bounds."""
    zone = ZoneInfo(settings.TIME_ZONE)
    people: dict[str, OnCallLoad] = {}
    acks = (
        AlertEvent.objects.filter(
            kind=EventKind.ACKNOWLEDGED, created_at__gte=since, created_at__lt=until, actor__isnull=False
        )
        .values("actor__username")
        .annotate(n=Count("pk"))
    )
    for row in acks:
        people.setdefault(row["actor__username"], OnCallLoad(row["actor__username"])).acknowledgements = row["n"]
    pages = Delivery.objects.filter(
        status=DeliveryStatus.SENT, user__isnull=False, sent_at__gte=since, sent_at__lt=until
    ).values_list("user__username", "sent_at")
    for name, sent_at in pages.iterator():
        load = people.setdefault(name, OnCallLoad(name))
        load.pages += 1
        load.night_pages += is_night(sent_at, zone)
    return sorted(people.values(), key=lambda p: (-(p.acknowledgements + p.pages), p.person))[:MAX_ROWS]
