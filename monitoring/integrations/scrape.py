"""Scraping Prometheus exporters: claim due targets, fetch, parse, map to samples, write.

The sweep (each minute) claims every due target with a conditional UPDATE, so two workers never
scrape one target in one period. Fetches run in a small thread pool (they wait on the network);
mapping and writes stay on the sweep's thread and go through `monitoring.ingest.samples_write`,
the shared fast path. A target that fails records its error and the sweep goes on.

Mapping (docs/integrations.md, "Scraping Prometheus exporters"):
- counters -> increments since the previous scrape, from the cumulative values kept per series in
  `ScrapeTarget.previous`; a value lower than before is a reset (the process restarted) and the
  new value is the increment. A target's first scrape only records the values.
- gauges, untyped, info and stateset samples -> readings.
- histograms -> `<name>_bucket{le=...}`, `<name>_sum` and `<name>_count` as counter series (the
  buckets are kept exactly, not folded into a sketch, so no quantile error is added here; a
  quantile over them is up to the reader).
- summaries -> `<name>{quantile=...}` as gauges, `<name>_sum` and `<name>_count` as counters.
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from monitoring.ingest import Row, metric_kinds, samples_write
from monitoring.integrations.models import ScrapeTarget
from monitoring.labels import (
    LABEL_RE,
    MAX_ABS_VALUE,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    MetricError,
    check_name,
    labels_canonical,
    labels_hash,
)
from monitoring.models import MetricKind

# A target due at 12:00:00 is claimed by the sweep of 12:00:00 give or take its start delay; the
# next due time is this much early so a 60 s target is not skipped by a sweep that starts 1 s early.
SLACK = timedelta(seconds=5)
# A claim outlives the scrape's timeout by this much; a worker that died mid-scrape frees it then.
CLAIM_MARGIN = timedelta(seconds=60)
# The exporter's labels the portal sets itself are kept under exported_<name>, as Prometheus does.
OWN_LABELS = frozenset({"service"})
# Where `ScrapeTarget.previous` notes the target labels its keys were made with (no metric name
# has a space, so no series key collides with it).
LABELS_MARK = " target labels"
# le and quantile are reserved for clients of the ingest API; scraped series keep them as named.
KEPT_RESERVED = frozenset({"le", "quantile"})
ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"


class ScrapeError(Exception):
    pass


@dataclass
class Fetched:
    target_id: int
    samples: list[tuple[str, str, dict, float]] = field(default_factory=list)  # name, kind, labels, value
    error: str = ""
    duration: float = 0.0


@dataclass
class SweepOutcome:
    scraped: int = 0
    failed: int = 0
    rows: int = 0


def body_fetch(client: httpx.Client, target: ScrapeTarget) -> tuple[str, str]:
    """The body (bounded by SCRAPE_MAX_BODY_BYTES, read as it streams) and its Content-Type."""
    limit = settings.SCRAPE_MAX_BODY_BYTES
    headers = {"Accept": ACCEPT}
    if target.bearer_token:
        headers["Authorization"] = f"Bearer {target.bearer_token}"
    with client.stream("GET", target.url, headers=headers, timeout=target.timeout_seconds) as response:
        if response.status_code != 200:
            raise ScrapeError(f"HTTP {response.status_code}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ScrapeError(f"body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", errors="replace"), response.headers.get("content-type", "")


def samples_parse(text: str, content_type: str) -> list[tuple[str, str, dict, float]]:
    """(name, portal kind, labels, value) per sample, named as the exporter's samples are."""
    openmetrics = content_type.startswith("application/openmetrics-text")
    families = openmetrics_families(text) if openmetrics else text_string_to_metric_families(text)
    found = []
    for family in families:
        kind = family.type
        for sample in family.samples:
            name = sample.name
            if name.endswith("_created"):
                continue  # a creation time, not a quantity
            if kind == "counter" or (kind in ("histogram", "summary") and name != family.name):
                portal_kind = MetricKind.COUNTER
            else:
                portal_kind = MetricKind.GAUGE  # gauges, quantiles, untyped, info, stateset, gaugehistogram
            found.append((name, portal_kind, sample.labels, float(sample.value)))
    return found


def target_fetch(client: httpx.Client, target: ScrapeTarget) -> Fetched:
    started = time.monotonic()
    fetched = Fetched(target.pk)
    try:
        text, content_type = body_fetch(client, target)
        fetched.samples = samples_parse(text, content_type)
    except ScrapeError as exc:
        fetched.error = str(exc)
    except httpx.TimeoutException:
        fetched.error = f"timed out after {target.timeout_seconds} s"
    except httpx.HTTPError as exc:
        fetched.error = f"{type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # the parser raises ValueError and friends for malformed text
        fetched.error = f"unparsable: {type(exc).__name__}: {exc}"[:500]
    fetched.duration = time.monotonic() - started
    return fetched


_series_cache: dict[tuple, tuple[str, str] | None] = {}
SERIES_CACHE_SIZE = 500_000  # ~100 B an entry; cleared when full


def series_key(target_labels: tuple, labels: dict) -> tuple[str, str] | None:
    """(canonical labels JSON, hash) of a scraped series, target labels winning, or None if its
    labels cannot be stored. Memoized: an exporter repeats its label sets every scrape, and
    merging, serializing and hashing them was a fifth of a sweep's time."""
    key = (target_labels, *labels.items())
    found = _series_cache.get(key, False)
    if found is not False:
        return found
    own = dict(target_labels)
    merged = {}
    for name, value in labels.items():
        if name in OWN_LABELS or name in own:
            name = f"exported_{name}"
        if not LABEL_RE.match(name) or name.startswith("__") or len(value) > MAX_LABEL_VALUE or "\x00" in value:
            merged = None
            break
        merged[name] = value
    if merged is not None:
        merged.update(own)
    if merged is None or len(merged) > MAX_LABELS + len(KEPT_RESERVED):
        found = None
    else:
        canonical = labels_canonical(merged)
        found = (canonical, labels_hash(canonical))
    if len(_series_cache) >= SERIES_CACHE_SIZE:
        _series_cache.clear()
    _series_cache[key] = found
    return found


def kinds_known(declared: dict[str, str], kinds: dict[str, str]) -> dict[str, str]:
    """The stored kinds, asking the database only about names this sweep has not seen yet."""
    unknown = {name: kind for name, kind in declared.items() if name not in kinds}
    if unknown:
        kinds.update(metric_kinds(unknown))
    return kinds


def rows_map(target: ScrapeTarget, fetched: Fetched, now: datetime, kinds: dict) -> tuple[list[Row], dict, int, int]:
    """-> (rows, new previous values, refused over the limit, invalid series)."""
    target_labels = tuple(sorted(target.labels.items()))
    # The target's labels are part of each series' key: after they change, every series is new,
    # and counting each from zero would turn whole cumulative values into one minute's increment.
    marker = labels_canonical(dict(target_labels))
    previous, current = target.previous, {LABELS_MARK: marker}
    first = (not previous and not target.last_ok) or previous.get(LABELS_MARK, marker) != marker
    declared: dict[str, str] = {}
    candidates = []
    refused = invalid = 0
    for name, kind, labels, value in fetched.samples:
        try:
            check_name(name)
        except MetricError:
            invalid += 1
            continue
        key = series_key(target_labels, labels)
        if key is None or math.isnan(value) or not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
            invalid += 1
            continue
        if len(candidates) >= target.series_limit:
            refused += 1
            continue
        candidates.append((name, kind, key, value))
        if name not in declared:
            declared[name] = kind
    stored = kinds_known(declared, kinds)
    rows = []
    service_id = target.service_id
    for name, kind, (canonical, digest), value in candidates:
        if stored[name] != kind:
            invalid += 1  # the name is stored as the other kind: its samples would mean something else
            continue
        if kind == MetricKind.COUNTER:
            key = f"{name}{canonical}"
            current[key] = value
            before = previous.get(key)
            if before is None:
                if first:
                    continue  # no baseline yet: the process's whole life is not one minute's count
                before = 0.0  # a series that appeared since the last scrape started from zero
            value = value - before if value >= before else value  # lower than before: a reset
        rows.append((service_id, name, canonical, digest, value, now))
    return rows, current, refused, invalid


def health_rows(target: ScrapeTarget, ok: bool, duration: float, samples: int, now: datetime) -> list[Row]:
    canonical = labels_canonical({"target": target.url[:MAX_LABEL_VALUE]})
    digest = labels_hash(canonical)
    values = {"scrape_up": 1.0 if ok else 0.0, "scrape_duration_seconds": round(duration, 6)}
    if ok:
        values["scrape_samples"] = float(samples)
    return [(target.service_id, name, canonical, digest, value, now) for name, value in values.items()]


def targets_claim(now: datetime, limit: int) -> list[ScrapeTarget]:
    """Take up to `limit` due targets for this period; a target another worker took is skipped.

    Each UPDATE moves next_scrape_at forward in the statement that checks it, so of two workers
    racing for a target the second one's WHERE no longer matches (PostgreSQL re-checks it once
    the first commits; SQLite runs one writer at a time). Claiming a few at a time, not all at
    once, lets a second worker share a long sweep."""
    due = (
        ScrapeTarget.objects.filter(enabled=True)
        .filter(Q(next_scrape_at__isnull=True) | Q(next_scrape_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .select_related("service")
        .order_by("next_scrape_at", "pk")
    )
    claimed = []
    candidates = list(due[: limit * 2])  # some of these may be taken by another worker meanwhile
    # One transaction for the batch's claims: one write lock taken on SQLite, not one per target.
    with transaction.atomic():
        for target in candidates:
            taken = (
                ScrapeTarget.objects.filter(pk=target.pk, enabled=True)
                .filter(Q(next_scrape_at__isnull=True) | Q(next_scrape_at__lte=now))
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                .update(
                    next_scrape_at=now + timedelta(seconds=target.interval_seconds) - SLACK,
                    claimed_until=now + timedelta(seconds=target.timeout_seconds) + CLAIM_MARGIN,
                )
            )
            if taken:
                claimed.append(target)
                if len(claimed) == limit:
                    break
    return claimed


def target_result(target: ScrapeTarget, fetched: Fetched, now: datetime, kinds: dict) -> tuple[list[Row], dict]:
    """One target's rows and the state to record on it."""
    state = {"last_scrape_at": now, "last_duration_ms": round(fetched.duration * 1000), "claimed_until": None}
    rows: list[Row] = []
    if fetched.error:
        state.update(last_ok=False, last_error=fetched.error[:500], last_samples=None)
    else:
        rows, current, refused, invalid = rows_map(target, fetched, now, kinds)
        notes = []
        if refused:
            notes.append(f"{refused} series over the limit of {target.series_limit} refused")
        if invalid:
            notes.append(f"{invalid} series not stored (invalid name, labels or value, or a kind conflict)")
        state.update(
            last_ok=True,
            last_error="; ".join(notes),
            last_samples=len(fetched.samples) - refused - invalid,
            last_refused_series=refused,
            previous=current,
        )
    rows += health_rows(target, not fetched.error, fetched.duration, state["last_samples"] or 0, now)
    return rows, state


def results_write(results: list[tuple[int, list[Row], dict]]) -> int:
    """Rows and states of several targets in one transaction (one commit, not one per target)."""
    with transaction.atomic():
        written = samples_write([row for _, rows, _ in results for row in rows])
        for pk, _, state in results:
            ScrapeTarget.objects.filter(pk=pk).update(**state)
    return written


def failure_record(pk: int, now: datetime, error: str) -> None:
    ScrapeTarget.objects.filter(pk=pk).update(last_scrape_at=now, last_ok=False, last_error=error, claimed_until=None)


def batch_scrape(client: httpx.Client, pool: ThreadPoolExecutor, claimed, now, kinds, outcome: SweepOutcome):
    results = []
    for target, fetched in zip(claimed, pool.map(lambda t: target_fetch(client, t), claimed), strict=True):
        try:
            rows, state = target_result(target, fetched, now, kinds)
        except Exception as exc:  # one target's bad data never stops the others
            failure_record(target.pk, now, f"not stored: {type(exc).__name__}: {exc}"[:500])
            outcome.failed += 1
            continue
        results.append((target.pk, rows, state))
        if state["last_ok"]:
            outcome.scraped += 1
        else:
            outcome.failed += 1
    try:
        outcome.rows += results_write(results)
    except Exception:
        # Write them one by one so the target at fault is the only one that fails.
        for result in results:
            try:
                outcome.rows += results_write([result])
            except Exception as exc:
                failure_record(result[0], now, f"not stored: {type(exc).__name__}: {exc}"[:500])
                outcome.scraped -= bool(result[2]["last_ok"])
                outcome.failed += bool(result[2]["last_ok"])


def scrape_sweep(now: datetime | None = None) -> SweepOutcome:
    """Scrape every due, enabled target once, a batch of SCRAPE_CONCURRENCY x 2 at a time."""
    now = now or timezone.now()
    outcome = SweepOutcome()
    kinds = metric_kinds(dict.fromkeys(("scrape_up", "scrape_duration_seconds", "scrape_samples"), MetricKind.GAUGE))
    workers = settings.SCRAPE_CONCURRENCY
    with httpx.Client(follow_redirects=False) as client, ThreadPoolExecutor(workers) as pool:
        while claimed := targets_claim(now, workers * 2):
            batch_scrape(client, pool, claimed, now, kinds, outcome)
    return outcome
