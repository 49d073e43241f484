"""`/metrics` in the Prometheus text format 0.0.4, built from the database.

Values come from stored samples and rollups, not from one process's memory, so counters stay
correct however many web and worker processes record them:
- counter: cumulative total = pruned totals (MetricTotal) + hour rollups of complete hours +
  minute rollups after them + raw samples after the rollup watermark;
- gauge: the latest sample within METRICS_PROMETHEUS_LOOKBACK_MINUTES (omitted when none);
- histogram/timer: a summary; quantiles over the lookback window, _sum and _count cumulative.
Plus the portal's own live state: health check status/latency and the rollup lag.
The number of queries is fixed, whatever the number of series.
"""

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import Count, F, FloatField, Func, Sum

from monitoring.models import HealthCheck, HourRollup, Metric, MetricKind, MetricSample, MetricTotal, MinuteRollup
from monitoring.query import QUANTILES, WindowAggregate, collect_buckets, floor_hour, label_key, rollup_watermark

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUS_VALUE = {"healthy": 0, "degraded": 1, "unhealthy": 2}
CUMULATIVE = (MetricKind.COUNTER, MetricKind.HISTOGRAM, MetricKind.TIMER)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs) + "}"


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):  # the text format spells these out
        return "NaN" if value is None or math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return repr(float(value)) if value != int(value) or abs(value) >= 1e15 else str(int(value))


def _sums(queryset, key_fields, count_field, sum_field, count):
    rows = queryset.values(*key_fields).annotate(c=count(count_field), s=Sum(sum_field))
    if connection.vendor != "postgresql":
        return list(rows)  # SQLite's SUM gives inf where PostgreSQL's raises
    try:
        with transaction.atomic():  # its own (sub)transaction: the error must not break an outer one
            return list(rows)
    except DataError:
        # A float overflow, only possible with rows stored before values were bounded: summed
        # exactly as numeric instead (slower, so only then); float() of the result may be inf.
        exact = Sum(Func(F(sum_field), template="%(expressions)s::numeric"), output_field=FloatField())
        rows = queryset.values(*key_fields).annotate(c=count(count_field), s=exact)
        return [{**row, "s": None if row["s"] is None else float(row["s"])} for row in rows]


def _add(out, queryset, key_fields, count_field, sum_field, count=Sum):
    for row in _sums(queryset, key_fields, count_field, sum_field, count):
        key = (row["name"], label_key(row["service__slug"], row["labels"]))
        out[key][0] += row["c"] or 0
        out[key][1] += row["s"] or 0


def cumulative_totals(names: list[str]) -> dict[tuple, list[float]]:
    """(name, LabelKey) -> [count, sum] over all time, for these names."""
    out: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    if not names:
        return out
    mark = rollup_watermark()
    fields = ("service__slug", "name", "labels_hash", "labels")
    _add(out, MetricTotal.objects.filter(name__in=names), fields, "count", "sum")
    if mark is not None:
        hour_end = floor_hour(mark)
        _add(out, HourRollup.objects.filter(name__in=names, start__lt=hour_end), fields, "count", "sum")
        minutes = MinuteRollup.objects.filter(name__in=names, start__gte=hour_end, start__lt=mark)
        _add(out, minutes, fields, "count", "sum")
    raw = MetricSample.objects.filter(name__in=names)
    if mark is not None:
        raw = raw.filter(time__gte=mark)
    _add(out, raw, fields, "id", "value", count=Count)
    return out


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    help_text = (help_text or name).replace("\\", "\\\\").replace("\n", "\\n")  # HELP escapes no quotes
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def exposition(*, now: datetime) -> str:
    metrics = {m.name: m for m in Metric.objects.order_by("name")}
    lookback = timedelta(minutes=settings.METRICS_PROMETHEUS_LOOKBACK_MINUTES)
    # Counters are read only as totals: recent buckets are for gauges' last values and quantiles.
    windowed = [n for n, m in metrics.items() if m.kind != MetricKind.COUNTER]
    recent = collect_buckets(names=windowed, since=now - lookback, until=now + timedelta(minutes=1), packed=True)
    cumulative = [n for n, m in metrics.items() if m.kind in CUMULATIVE]
    totals = cumulative_totals(cumulative)
    by_name_recent: dict[str, list] = defaultdict(list)
    for (name, key), buckets in recent.items():
        by_name_recent[name].append((key, WindowAggregate.merge(buckets)))
    by_name_total: dict[str, list] = defaultdict(list)
    for (name, key), (count, total) in totals.items():
        by_name_total[name].append((key, count, total))
    lines: list[str] = []
    for name, metric in metrics.items():
        if metric.kind == MetricKind.COUNTER:
            series = sorted(by_name_total.get(name, ()))
            if series:
                _family(lines, name, "counter", metric.help)
                lines += [f"{name}{_labels(key)} {_number(total)}" for key, _, total in series]
        elif metric.kind == MetricKind.GAUGE:
            series = sorted(by_name_recent.get(name, ()), key=lambda item: item[0])
            if series:
                _family(lines, name, "gauge", metric.help)
                lines += [f"{name}{_labels(key)} {_number(agg.last)}" for key, agg in series]
        else:
            recent_by_key = dict(by_name_recent.get(name, ()))
            series = sorted(by_name_total.get(name, ()))
            if not series:
                continue
            _family(lines, name, "summary", metric.help)
            for key, count, total in series:
                agg = recent_by_key.get(key)
                if agg is not None:
                    for label, q in QUANTILES.items():
                        pairs = (*key, ("quantile", str(q)))
                        lines.append(f"{name}{_labels(pairs)} {_number(agg.value(label))}")
                lines.append(f"{name}_sum{_labels(key)} {_number(total)}")
                lines.append(f"{name}_count{_labels(key)} {_number(count)}")
    lines += _portal_state(now)
    return "\n".join(lines) + "\n"


def _portal_state(now: datetime) -> list[str]:
    lines: list[str] = []
    checks = list(
        HealthCheck.objects.filter(enabled=True)
        .exclude(last_status="")
        .values_list("name", "kind", "service__slug", "last_status", "last_latency_ms")
    )
    if checks:
        _family(lines, "portal_health_check_status", "gauge", "Health check status: 0 healthy, 1 degraded, 2 unhealthy")
        for name, kind, slug, status, _ in checks:
            pairs = (("check", name), ("kind", kind), ("service", slug or ""))
            lines.append(f"portal_health_check_status{_labels(pairs)} {STATUS_VALUE[status]}")
        _family(lines, "portal_health_check_latency_ms", "gauge", "Latency of the last health check run")
        for name, kind, slug, _, latency in checks:
            if latency is not None:
                pairs = (("check", name), ("kind", kind), ("service", slug or ""))
                lines.append(f"portal_health_check_latency_ms{_labels(pairs)} {_number(latency)}")
    mark = rollup_watermark()
    if mark is not None:
        _family(lines, "portal_metrics_rollup_lag_seconds", "gauge", "Age of the minute rollup watermark")
        lines.append(f"portal_metrics_rollup_lag_seconds {_number(round((now - mark).total_seconds(), 3))}")
    return lines
