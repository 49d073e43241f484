"""OTLP metrics -> the portal's samples (docs/integrations.md, "OpenTelemetry metrics").

Decoding is opentelemetry-proto's generated messages; this module only maps decoded points:
- sums: delta monotonic -> counter increments; cumulative monotonic -> the increment since the
  previous export of the series (OtlpSeriesState; a drop or a new start time is a reset);
  non-monotonic -> gauge readings (a delta one is added to a running total first);
- gauges -> gauge readings;
- histograms -> `<name>_bucket{le=...}` counters (cumulative per `le`, as Prometheus has them),
  `<name>_sum` and `<name>_count` counters;
- exponential histograms -> the same three, re-bucketed to OTLP_EXPONENTIAL_SCALE (bounds are
  powers of 2**(2**-scale), so the `le` values of a series come from one fixed grid);
- summaries -> `<name>{quantile=...}` gauges plus `_sum` and `_count` counters.
A point that cannot be stored (bad name or labels, value out of range, time out of bounds, a
name stored as another kind) is refused alone and counted in partial_success.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from google.protobuf import json_format
from opentelemetry.proto.metrics.v1 import metrics_pb2

from monitoring.ingest import NEGATIVE_INCREMENT, metric_kinds, samples_write, time_bounds
from monitoring.integrations.models import OtlpSeriesState
from monitoring.labels import (
    MAX_LABELS,
    RESERVED_LABELS,
    MetricError,
    check_labels,
    check_name,
    check_value,
    labels_canonical,
    labels_hash,
)
from monitoring.models import MetricKind

CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
NOT_NAME = re.compile(r"[^a-zA-Z0-9_:]+")
NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]+")
# UCUM units the OpenTelemetry SDKs use, as the Prometheus naming convention spells them; other
# units are left out of the name (annotations like "{request}" mean "a count of").
UNIT_SUFFIXES = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "min": "minutes",
    "h": "hours",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "By/s": "bytes_per_second",
    "%": "percent",
    "Cel": "celsius",
}
MAX_ERRORS_LISTED = 5

# How a sample's value is stored: as it is, or through the previous export's state.
AS_IS = "as_is"
CUMULATIVE_COUNTER = "cumulative"  # value minus the previous export's
RUNNING_TOTAL = "running"  # previous total plus value (a non-monotonic delta sum)


@dataclass
class Out:
    name: str
    kind: str
    canonical: str
    digest: str
    value: float
    mode: str = AS_IS
    start: int = 0


@dataclass
class Outcome:
    accepted: int = 0  # samples written
    rejected: int = 0  # data points refused
    errors: list[str] = field(default_factory=list)

    def refuse(self, message: str, points: int = 1) -> None:
        self.rejected += points
        if message not in self.errors and len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(message)

    @property
    def error_message(self) -> str:
        if not self.rejected:
            return ""
        return f"{self.rejected} data point(s) refused: " + "; ".join(self.errors)


def metric_name(raw: str, unit: str, *, total: bool = False, ratio: bool = False) -> str:
    """OTel name -> portal name: characters outside [a-zA-Z0-9_:] become `_` (dots included), the
    unit is appended as Prometheus spells it, and monotonic sums end in `_total`."""
    name = NOT_NAME.sub("_", raw).strip("_") or "_"
    if name[0].isdigit():
        name = "_" + name
    suffix = "ratio" if ratio and unit == "1" else UNIT_SUFFIXES.get(unit, "")
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if total and not name.endswith("_total"):
        name += "_total"
    return name


def label_name(key: str) -> str:
    """Attribute key -> label name: `.`, `-` and the like become `_`; reserved names get `otel_`."""
    name = NOT_LABEL.sub("_", key) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = "_" + name.lstrip("_")
    return "otel_" + name if name in RESERVED_LABELS else name


def any_value_text(value) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind is None:
        return ""
    return json.dumps(json_format.MessageToDict(value), sort_keys=True, separators=(",", ":"))


def attributes_labels(attributes, keep=None) -> dict[str, str]:
    labels = {}
    for item in attributes:
        if keep is None or item.key in keep:
            labels[label_name(item.key)] = any_value_text(item.value)
    return labels


def resource_labels(resource) -> dict[str, str]:
    return attributes_labels(resource.attributes, keep=set(settings.OTLP_RESOURCE_LABELS))


def resource_service_names(request) -> set[str]:
    return {
        any_value_text(item.value)
        for rm in request.resource_metrics
        for item in rm.resource.attributes
        if item.key == "service.name"
    }


def format_le(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(float(bound))


class Series:
    """Label sets of one point: the validated base set, plus `le` or `quantile` added by us."""

    def __init__(self, labels: dict[str, str]):
        self.labels = check_labels(labels)
        self.canonical = labels_canonical(self.labels)
        self.digest = labels_hash(self.canonical)

    def key(self, extra: str = "", value: str = "") -> tuple[str, str]:
        if not extra:
            return self.canonical, self.digest
        if len(self.labels) >= MAX_LABELS:
            raise MetricError("labels", f"at most {MAX_LABELS - 1} attributes on a histogram or summary point")
        canonical = labels_canonical({**self.labels, extra: value})
        return canonical, labels_hash(canonical)


def point_value(point) -> float:
    if point.WhichOneof("value") == "as_int":
        return check_value(point.as_int)
    return check_value(point.as_double)


def exponential_buckets(point, target_scale: int) -> list[tuple[float, int]]:
    """(upper bound, count) per bucket at `target_scale` or the point's coarser own scale.
    Downscaling merges whole buckets (bucket i at scale s lies in bucket i >> (s - t) at scale t),
    so counts stay exact and only the bounds coarsen."""
    shift = max(point.scale - target_scale, 0)
    scale = point.scale - shift
    merged: dict[float, int] = {}

    def bound(index: int) -> float:
        try:
            return 2.0 ** (index * 2.0**-scale)
        except OverflowError:
            return math.inf

    for buckets, sign in ((point.positive, 1), (point.negative, -1)):
        for offset, count in enumerate(buckets.bucket_counts):
            if not count:
                continue
            index = (buckets.offset + offset) >> shift
            # Positive bucket i holds (b**i, b**(i+1)]; negative bucket i holds [-b**(i+1), -b**i).
            upper = bound(index + 1) if sign > 0 else -bound(index)
            merged[upper] = merged.get(upper, 0) + count
    if point.zero_count:
        merged[point.zero_threshold] = merged.get(point.zero_threshold, 0) + point.zero_count
    return sorted(merged.items())


def cumulative_le(pairs: list[tuple[float, int]], total: int) -> list[tuple[str, float]]:
    """Per-bucket counts -> Prometheus' cumulative `le` counts, +Inf being the total. Bounds
    beyond the value range fold into +Inf."""
    out, running = [], 0
    for upper, count in pairs:
        running += count
        if math.isfinite(upper) and abs(upper) <= 1e15:
            out.append((format_le(upper), float(running)))
    out.append(("+Inf", float(total)))
    return out


def histogram_outs(base: str, series: Series, point, *, le_counts, delta: bool) -> list[Out]:
    mode = AS_IS if delta else CUMULATIVE_COUNTER
    start = point.start_time_unix_nano
    outs = []
    for le, count in le_counts:
        canonical, digest = series.key("le", le)
        outs.append(Out(base + "_bucket", MetricKind.COUNTER, canonical, digest, check_value(count), mode, start))
    outs.append(
        Out(
            base + "_count",
            MetricKind.COUNTER,
            series.canonical,
            series.digest,
            check_value(float(point.count)),
            mode,
            start,
        )
    )
    if point.HasField("sum"):
        outs.append(
            Out(base + "_sum", MetricKind.COUNTER, series.canonical, series.digest, check_value(point.sum), mode, start)
        )
    return outs


def point_outs(metric, point, base_labels: dict[str, str]) -> list[Out]:
    """The samples one data point becomes (before cumulative values are turned into increments)."""
    kind = metric.WhichOneof("data")
    series = Series({**base_labels, **attributes_labels(point.attributes)})
    unit = metric.unit
    if kind == "gauge":
        name = check_name(metric_name(metric.name, unit, ratio=True))
        return [Out(name, MetricKind.GAUGE, series.canonical, series.digest, point_value(point))]
    if kind == "sum":
        data = metric.sum
        value = point_value(point)
        if data.is_monotonic:
            name = check_name(metric_name(metric.name, unit, total=True))
            if data.aggregation_temporality == CUMULATIVE:
                return [
                    Out(
                        name,
                        MetricKind.COUNTER,
                        series.canonical,
                        series.digest,
                        value,
                        CUMULATIVE_COUNTER,
                        point.start_time_unix_nano,
                    )
                ]
            if value < 0:
                raise MetricError("value", NEGATIVE_INCREMENT)
            return [Out(name, MetricKind.COUNTER, series.canonical, series.digest, value)]
        name = check_name(metric_name(metric.name, unit, ratio=True))
        mode = AS_IS if data.aggregation_temporality == CUMULATIVE else RUNNING_TOTAL
        return [Out(name, MetricKind.GAUGE, series.canonical, series.digest, value, mode, point.start_time_unix_nano)]
    base = check_name(metric_name(metric.name, unit))
    check_name(base + "_bucket")
    if kind == "histogram":
        # Bucket i counts values in (bounds[i-1], bounds[i]]; the last one (above every bound) is +Inf.
        pairs = list(zip(point.explicit_bounds, point.bucket_counts, strict=False))
        le_counts = cumulative_le(pairs, point.count)
        delta = metric.histogram.aggregation_temporality != CUMULATIVE
        return histogram_outs(base, series, point, le_counts=le_counts, delta=delta)
    if kind == "exponential_histogram":
        le_counts = cumulative_le(exponential_buckets(point, settings.OTLP_EXPONENTIAL_SCALE), point.count)
        delta = metric.exponential_histogram.aggregation_temporality != CUMULATIVE
        return histogram_outs(base, series, point, le_counts=le_counts, delta=delta)
    if kind == "summary":
        outs = []
        for quantile in point.quantile_values:
            canonical, digest = series.key("quantile", repr(quantile.quantile))
            outs.append(Out(base, MetricKind.GAUGE, canonical, digest, check_value(quantile.value)))
        start = point.start_time_unix_nano
        outs.append(
            Out(
                base + "_count",
                MetricKind.COUNTER,
                series.canonical,
                series.digest,
                check_value(point.count),
                CUMULATIVE_COUNTER,
                start,
            )
        )
        outs.append(
            Out(
                base + "_sum",
                MetricKind.COUNTER,
                series.canonical,
                series.digest,
                check_value(point.sum),
                CUMULATIVE_COUNTER,
                start,
            )
        )
        return outs
    raise MetricError("data", f"metric {metric.name!r} has no data")


def data_points(metric):
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else []


def point_time(point, *, now: datetime, bounds) -> datetime:
    if not point.time_unix_nano:
        return now
    moment = datetime.fromtimestamp(point.time_unix_nano / 1e9, tz=UTC)
    oldest, newest = bounds
    if moment > newest:
        raise MetricError("time_unix_nano", "is more than 5 minutes in the future")
    if moment < oldest:
        raise MetricError("time_unix_nano", "is older than the raw retention period")
    return moment


def otlp_ingest(*, service, request, now: datetime) -> Outcome:
    """Map an ExportMetricsServiceRequest and write what is valid; refused points are counted."""
    outcome = Outcome()
    bounds = time_bounds(now)
    limit = settings.OTLP_MAX_SAMPLES
    points: list[tuple[list[Out], datetime]] = []
    planned = 0
    for resource_metrics in request.resource_metrics:
        base_labels = resource_labels(resource_metrics.resource)
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                for point in data_points(metric):
                    try:
                        outs = point_outs(metric, point, base_labels)
                        moment = point_time(point, now=now, bounds=bounds)
                    except MetricError as exc:
                        outcome.refuse(f"{metric.name}: {exc.field} {exc.message}")
                        continue
                    if planned + len(outs) > limit:
                        outcome.refuse(f"more than {limit} samples in one request (OTLP_MAX_SAMPLES)")
                        continue
                    planned += len(outs)
                    points.append((outs, moment))
    declared = {out.name: out.kind for outs, _ in points for out in outs}
    kinds = metric_kinds(declared) if declared else {}
    valid = []
    for outs, moment in points:
        clash = next((out for out in outs if kinds[out.name] != out.kind), None)
        if clash is not None:
            outcome.refuse(f"{clash.name} is stored as a {kinds[clash.name]}, not a {clash.kind}")
        else:
            valid.append((outs, moment))
    with transaction.atomic():
        rows = _rows(service, valid, now, outcome)
        outcome.accepted = samples_write(rows)
    return outcome


def _rows(service, points, now, outcome) -> list:
    """Rows to write; cumulative and running series go through their stored previous value,
    read in one query and written back in one upsert (in the caller's transaction)."""
    stateful = {(o.name, o.digest) for outs, _ in points for o in outs if o.mode != AS_IS}
    states: dict[tuple[str, str], OtlpSeriesState] = {}
    if stateful:
        names, digests = {n for n, _ in stateful}, {d for _, d in stateful}
        found = OtlpSeriesState.objects.select_for_update().filter(
            service=service, name__in=names, labels_hash__in=digests
        )
        states = {(s.name, s.labels_hash): s for s in found if (s.name, s.labels_hash) in stateful}
    changed: dict[tuple[str, str], OtlpSeriesState] = {}
    rows = []
    for outs, moment in sorted(points, key=lambda p: p[1]):
        for out in outs:
            value = out.value
            if out.mode != AS_IS:
                key = (out.name, out.digest)
                state = states.get(key)
                known = state is not None
                if not known:
                    state = OtlpSeriesState(
                        service=service, name=out.name, labels_hash=out.digest, start_unix_nano=out.start, value=0.0
                    )
                if out.mode == CUMULATIVE_COUNTER:
                    if not known:
                        # Never seen: with a start time the whole value accrued since then is
                        # new; without one it is only the baseline for the next export.
                        value = out.value if out.start else None
                    elif out.start != state.start_unix_nano or out.value < state.value:
                        value = out.value  # the process restarted: counting began again at 0
                    else:
                        value = out.value - state.value
                    state.value, state.start_unix_nano = out.value, out.start
                else:  # a running total of a non-monotonic delta sum
                    state.value = value = state.value + out.value
                state.updated_at = now
                states[key] = changed[key] = state
            if value is not None and out.kind == MetricKind.COUNTER and value < 0:
                # A _sum of negative observations: a counter increment cannot be negative.
                outcome.refuse(f"{out.name}: {NEGATIVE_INCREMENT}")
                continue
            if value is not None:
                rows.append((service.pk, out.name, out.canonical, out.digest, value, moment))
    if changed:
        OtlpSeriesState.objects.bulk_create(
            list(changed.values()),
            update_conflicts=True,
            unique_fields=["service", "name", "labels_hash"],
            update_fields=["start_unix_nano", "value", "updated_at"],
        )
        # An SDK exports every series every interval, changed or not: a state idle for the raw
        # retention belongs to a process that is gone. One indexed DELETE keeps the table to the
        # live series (restarts make new ones when service.instance.id is a label).
        cutoff = now - timedelta(days=settings.METRICS_RAW_RETENTION_DAYS)
        OtlpSeriesState.objects.filter(service=service, updated_at__lt=cutoff).delete()
    return rows
