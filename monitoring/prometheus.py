"""`/metrics` from the database, written by prometheus_client: the text format 0.0.4, or
OpenMetrics when the scraper asks for it.

Values come from stored samples and rollups, not from one process's memory, so counters stay
correct however many web and worker processes record them:
- counter: the cumulative total, from the running totals the rollup job keeps plus the raw samples
  not rolled up yet (`monitoring.totals`): one statement whatever the history's length;
- gauge: the latest sample within METRICS_PROMETHEUS_LOOKBACK_MINUTES (omitted when none);
- histogram/timer: a summary; quantiles over the lookback window, _sum and _count cumulative.
Plus the portal's own live state: health check status/latency and the rollup lag.
The number of queries is fixed, and the rows read grow with the series, not with the hours.
"""

import logging
import math
import operator
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as Family
from prometheus_client.exposition import choose_encoder

from monitoring.healthchecks import status as health
from monitoring.lookback import gauge_last, summary_quantiles
from monitoring.models import HealthCheck, Metric, MetricKind
from monitoring.query import MINUTE, QUANTILES, floor_minute, rollup_watermark
from monitoring.totals import cumulative_totals
from portal.lib.gc_pause import gc_paused

STATUS_VALUE = health.RANK
NAN = math.nan
logger = logging.getLogger(__name__)


def _number(value: float | None) -> float:
    return NAN if value is None else float(value)


def _sample_names(family: Family) -> set[str]:
    if family.type == "counter":
        return {family.name, f"{family.name}_total"}
    if family.type == "summary":
        return {family.name, f"{family.name}_sum", f"{family.name}_count"}
    return {family.name}


def _family(name: str, kind: str, help_text: str) -> Family:
    help_text = help_text or name
    if kind == "counter":
        return CounterMetricFamily(name, help_text)  # exposed as <name without _total>_total
    if kind == "gauge":
        return GaugeMetricFamily(name, help_text)
    return Family(name, help_text, kind)


class StoredMetrics:
    """A prometheus_client collector over what the database holds, for one scrape at `now`."""

    def __init__(self, *, now: datetime):
        self.now = now
        self.mark = rollup_watermark()

    def collect(self) -> Iterator[Family]:
        taken: set[str] = set()
        for family in [*self._stored(), *self._portal_state()]:
            names = _sample_names(family)
            if names & taken:
                # `orders` and `orders_total` are both the counter family `orders`: Prometheus
                # refuses a scrape that has one twice, so the first (by name) is kept.
                logger.warning("/metrics: %s is exposed under a name already taken; left out", family.name)
                continue
            taken |= names
            yield family

    def _stored(self) -> list[Family]:
        metrics = Metric.objects.order_by("name").values_list("name", "kind", "help")
        lookback = timedelta(minutes=settings.METRICS_PROMETHEUS_LOOKBACK_MINUTES)
        window = {"since": floor_minute(self.now - lookback), "until": self.now + MINUTE, "mark": self.mark}
        gauges = gauge_last(**window)
        quantiles = summary_quantiles(**window, quantiles=list(QUANTILES.values()))
        totals = cumulative_totals()
        families = []
        by_labels = operator.itemgetter(0)  # (labels, ...): the order of the series in a family
        quantile_labels = [str(q) for q in QUANTILES.values()]
        for name, kind, help_text in metrics:
            if kind == MetricKind.GAUGE:
                series = sorted(gauges.get(name, ()), key=by_labels)
                if series:
                    family = _family(name, "gauge", help_text)
                    for key, value in series:
                        family.add_sample(name, dict(key), value)
                    families.append(family)
                continue
            series = sorted(totals.get(name, ()), key=by_labels)
            if not series:
                continue
            if kind == MetricKind.COUNTER:
                family = _family(name, "counter", help_text)
                sample_name = f"{family.name}_total"
                for total in series:
                    family.add_sample(sample_name, dict(total.labels), total.sum)
            else:
                family = _family(name, "summary", help_text)
                sum_name, count_name = f"{name}_sum", f"{name}_count"
                for total in series:
                    labels = dict(total.labels)
                    for q, value in zip(quantile_labels, quantiles.get(total.series, ()), strict=False):
                        family.add_sample(name, {**labels, "quantile": q}, _number(value))
                    family.add_sample(sum_name, labels, total.sum)
                    family.add_sample(count_name, labels, total.count)
            families.append(family)
        return families

    def _portal_state(self) -> list[Family]:
        families = []
        checks = list(
            HealthCheck.objects.filter(enabled=True)
            .exclude(last_status="")
            .values_list("name", "kind", "service__slug", "last_status", "last_latency_ms")
        )
        if checks:
            status = _family(
                "portal_health_check_status", "gauge", "Health check status: 0 healthy, 1 degraded, 2 unhealthy"
            )
            latency = _family("portal_health_check_latency_ms", "gauge", "Latency of the last health check run")
            for name, kind, slug, state, ms in checks:
                labels = {"check": name, "kind": kind, "service": slug or ""}
                status.add_sample(status.name, labels, STATUS_VALUE[state])
                if ms is not None:
                    latency.add_sample(latency.name, labels, ms)
            families += [status, latency]
        if self.mark is not None:
            lag = _family("portal_metrics_rollup_lag_seconds", "gauge", "Age of the minute rollup watermark")
            lag.add_sample(lag.name, {}, round((self.now - self.mark).total_seconds(), 3))
            families.append(lag)
        return families


def exposition(*, now: datetime, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) for a scraper that sent this Accept header."""
    with gc_paused():  # ~100k short-lived objects, no cycles among them
        encoder, content_type = choose_encoder(accept)
        return encoder(StoredMetrics(now=now)), content_type
