"""Rule evaluation, once a minute.

Reads are grouped: enabled rules are grouped by metric and the metrics by the longest window any
of their rules needs; `minute_buckets` is called once per group (a few queries each whatever the
number of series), so the query count follows the distinct metrics/windows, never the rules.
Each rule then merges, per matching label set, the buckets inside its own window (merged
aggregates are shared between rules with the same metric, series and window).

Writes happen only on transitions (ok→pending→firing→resolved): a quiet minute writes nothing.
"""

import logging
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from monitoring.alerting.conditions import (
    SYMBOLS,
    condition_holds,
    fingerprint,
    matches_all,
    parse_group_by,
    parse_matchers,
    render_annotation,
)
from monitoring.alerting.lifecycle import (
    EVALUATOR,
    Firing,
    TransitionNotAllowed,
    alert_reopen,
    alert_resolve,
    alerts_fire,
    alerts_resolve,
)
from monitoring.alerting.models import Alert, AlertRule, AlertStatus, RuleSource, RuleState
from monitoring.alerting.rules import rule_disable
from monitoring.healthchecks.status import UNHEALTHY
from monitoring.query import Bucket, WindowAggregate, floor_minute, minute_buckets
from portal.lib.bulk import bulk_set, chunks, full_batches
from portal.models import Service

log = logging.getLogger(__name__)
FORGET_AFTER = timedelta(days=1)


@dataclass
class Observation:
    labels: dict[str, str]
    value: float | None
    holds: bool
    note: str = ""


@dataclass
class EvaluationReport:
    rules: int = 0
    series: int = 0
    pending: int = 0
    fired: int = 0
    reopened: int = 0
    resolved: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.rules} rules, {self.series} series: {self.fired} fired, {self.reopened} reopened, "
            f"{self.resolved} resolved, {self.pending} pending ({self.seconds * 1000:.0f} ms)"
        )


def window_aggregate(buckets: list[Bucket], *, window: timedelta, now: datetime) -> WindowAggregate:
    """One series as a rule sees it at `now`: its buckets (sorted by start) that start in
    [floor(now - window), now), merged. The rule builder's preview calls it for every point."""
    low = bisect_left(buckets, floor_minute(now - window), key=_start)
    high = bisect_left(buckets, now, key=_start)
    return WindowAggregate.merge(buckets[low:high], window_seconds=window.total_seconds())


def _start(bucket: Bucket) -> datetime:
    return bucket.start


def _metric_observations(
    rules: list[AlertRule], *, now: datetime, report: EvaluationReport | None = None
) -> dict[int, dict[str, Observation]]:
    report = report if report is not None else EvaluationReport()
    longest: dict[str, timedelta] = {}
    for rule in rules:
        longest[rule.metric] = max(longest.get(rule.metric, rule.window), rule.window)
    by_window: dict[timedelta, list[str]] = defaultdict(list)
    for name, window in longest.items():
        by_window[window].append(name)
    series: dict[str, list] = defaultdict(list)
    for window, names in by_window.items():
        for (name, key), buckets in minute_buckets(names=sorted(names), since=now - window, until=now).items():
            series[name].append((key, buckets))

    merged: dict[tuple, WindowAggregate] = {}
    found: dict[int, dict[str, Observation]] = {}
    for rule in rules:
        seen = _safely(_rule_observations, rule, series.get(rule.metric, ()), merged, now=now, report=report)
        if seen is not None:  # a rule that failed is left out; rules_evaluate skips it
            found[rule.pk] = seen
    return found


def _window_slice(buckets: list[Bucket], *, window: timedelta, now: datetime) -> list[Bucket]:
    return buckets[bisect_left(buckets, floor_minute(now - window), key=_start) : bisect_left(buckets, now, key=_start)]


def _grouped_observations(rule: AlertRule, series: list, *, now: datetime) -> dict[str, Observation]:
    """A rule with `group_by`: the matching series that share those labels are merged into one
    label set (a route's requests of every method and status). With `ratio_matchers` the value
    is aggregation(the group's series that also match them) / aggregation(the whole group), e.g.
    the share of 5xx requests; an empty group has no value (never a division by zero)."""
    matchers, ratio = rule.all_matchers(), parse_matchers(rule.ratio_matchers)
    names = parse_group_by(rule.group_by)
    groups: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for key, buckets in series:
        labels = dict(key)
        if not matches_all(matchers, labels):
            continue
        whole, part = groups[tuple((name, labels.get(name, "")) for name in names)]
        inside = _window_slice(buckets, window=rule.window, now=now)
        whole.extend(inside)
        if ratio and matches_all(ratio, labels):
            part.extend(inside)
    seconds = rule.window.total_seconds()
    found: dict[str, Observation] = {}
    for group, (whole, part) in groups.items():
        labels = dict(group)
        aggregate = WindowAggregate.merge(whole, window_seconds=seconds)
        # Too few samples to judge (min_count): no value, like an empty window.
        value = (
            aggregate.value(rule.aggregation, horizon_seconds=rule.horizon.total_seconds())
            if aggregate.count >= rule.min_count
            else None
        )
        if ratio and value is not None:
            share = WindowAggregate.merge(part, window_seconds=seconds).value(rule.aggregation) or 0.0
            value = share / value if value else None
        found[fingerprint(rule.pk, labels)] = Observation(
            labels, value, condition_holds(value, rule.comparison, rule.threshold)
        )
    return found


def _rule_observations(rule: AlertRule, series: list, merged: dict, *, now: datetime) -> dict[str, Observation]:
    """One metric rule's label sets; merged aggregates are shared with rules of the same window."""
    if rule.group_by or rule.ratio_matchers:
        return _grouped_observations(rule, series, now=now)
    matchers = rule.all_matchers()
    seconds = rule.window.total_seconds()
    found: dict[str, Observation] = {}
    for key, buckets in series:
        labels = dict(key)
        if not matches_all(matchers, labels):
            continue
        cache_key = (rule.metric, key, seconds)
        agg = merged.get(cache_key)
        if agg is None:
            agg = merged[cache_key] = window_aggregate(buckets, window=rule.window, now=now)
        value = (
            agg.value(rule.aggregation, horizon_seconds=rule.horizon.total_seconds())
            if agg.count >= rule.min_count
            else None
        )
        found[fingerprint(rule.pk, labels)] = Observation(
            labels, value, condition_holds(value, rule.comparison, rule.threshold)
        )
    return found


def _health_observations(rules: list[AlertRule]) -> dict[int, dict[str, Observation]]:
    """Critical health checks as label sets of the built-in health rule(s)."""
    try:
        health_check = apps.get_model("monitoring", "HealthCheck")
    except LookupError:
        return {}
    checks = list(health_check.objects.filter(critical=True, enabled=True).select_related("service"))
    found: dict[int, dict[str, Observation]] = defaultdict(dict)
    for rule in rules:
        matchers = rule.all_matchers()
        for check in checks:
            labels = {"check": check.name, "check_id": str(check.pk)}
            if check.service_id:
                labels["service"] = check.service.slug
            if not matches_all(matchers, labels):
                continue
            unhealthy = check.last_status == UNHEALTHY
            found[rule.pk][fingerprint(rule.pk, labels)] = Observation(
                labels, 1.0 if unhealthy else 0.0, unhealthy, note=check.last_message
            )
    return found


def _texts(rule: AlertRule, obs: Observation) -> tuple[str, str]:
    context = {"value": obs.value, "threshold": rule.threshold, "rule": rule.name, "labels": obs.labels}
    summary = render_annotation(rule.summary, **context)
    if not summary:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(obs.labels.items()))
        if rule.source == RuleSource.HEALTH_CHECK:
            summary = f"Health check {obs.labels.get('check', '?')} is unhealthy"
        else:
            value = "no data" if obs.value is None else f"{obs.value:.4g}"
            summary = f"{rule.name}: {value} {SYMBOLS[rule.comparison]} {rule.threshold:g}"
        summary += f" ({shown})" if shown else ""
    description = render_annotation(rule.annotation, **context)
    if obs.note:
        description = f"{description}\n\n{obs.note}".strip()
    return summary, description


class _Evaluator:
    def __init__(self, rules: list[AlertRule], *, now: datetime, report: EvaluationReport):
        self.now, self.report = now, report
        # Filtered by a join, not `rule__in=<ids>`: a thousand rules would be a thousand parameters.
        ids = {r.pk for r in rules}
        states = RuleState.objects.filter(rule__enabled=True)
        self.states = {(s.rule_id, s.fingerprint): s for s in states if s.rule_id in ids}
        self.open = {a.fingerprint: a for a in Alert.objects.open().filter(rule__enabled=True) if a.rule_id in ids}
        self.created: list[RuleState] = []
        self.opening: list[tuple[AlertRule, str, Observation, RuleState]] = []
        self.resolving: list[tuple[Alert, float | None]] = []
        self.changed: dict[int, RuleState] = {}
        self.forgotten: list[int] = []
        self._services: dict[str, Service] | None = None

    def service_for(self, rule: AlertRule, labels: dict) -> Service | None:
        if rule.service_id:
            return rule.service
        if self._services is None:  # loaded only when something fires
            self._services = {s.slug: s for s in Service.objects.all()}
        return self._services.get(labels.get("service", ""))

    def step(self, rule: AlertRule, fp: str, obs: Observation) -> None:
        state = self.states.get((rule.pk, fp))
        alert = self.open.get(fp)
        if not obs.holds:
            if state is not None and state.active_since is not None:
                self._touch(state, active_since=None, value=obs.value)
            if alert is not None:
                self.resolving.append((alert, obs.value))
            return
        if state is None:
            state = RuleState(rule=rule, fingerprint=fp, labels=obs.labels, active_since=self.now, value=obs.value)
            state.changed_at = self.now
            self.states[(rule.pk, fp)] = state
            self.created.append(state)
        elif state.active_since is None:
            self._touch(state, active_since=self.now, value=obs.value)
        if alert is not None:
            return
        if self.now - state.active_since < rule.for_duration:
            self.report.pending += 1
            return
        self.opening.append((rule, fp, obs, state))

    def resolve_all(self) -> None:
        """Resolve the open alerts whose condition cleared, all at once (a storm ends as it began:
        a few bulk writes). One resolved meanwhile, by a person or an overlapping evaluation, is
        left as it is."""
        resolving, self.resolving = self.resolving, []
        try:
            resolved = self._resolve(resolving)
        except Exception:
            log.warning("alert evaluation: resolving %s at once failed; one at a time", len(resolving), exc_info=True)
            resolved = [done for one in resolving for done in _safely(self._resolve, [one], report=self.report) or []]
        self.report.resolved += len(resolved)

    def _resolve(self, resolving: list[tuple[Alert, float | None]]) -> list[Alert]:
        if not resolving:
            return []
        alerts, values = zip(*resolving, strict=True)
        return alerts_resolve(alerts=list(alerts), values=list(values), by=None, via=EVALUATOR, now=self.now)

    def open_all(self) -> None:
        """Open the label sets that started firing, all at once: a storm of new alerts is a few
        bulk writes (`alerts_fire`), not a transaction per alert."""
        opening, self.opening = self.opening, []
        if not opening:
            return
        previous = self._resolved_by_people(opening)
        firings, states = [], []
        for rule, fp, obs, state in opening:
            summary, description = _texts(rule, obs)
            alert = previous.get(fp)
            # Resolved by a person while the condition never cleared: the same incident, reopened.
            if alert is not None and alert.resolved_at >= state.active_since:
                reopened = _safely(self._reopen, alert, obs, summary, description, report=self.report)
                if reopened:
                    self._touch(state, value=obs.value)
                    continue
                if reopened is None:  # failed (logged and reported): leave this label set for the next minute
                    continue
            labels = {**(rule.labels or {}), **obs.labels}
            service = self.service_for(rule, obs.labels)
            firings.append(Firing(rule, fp, labels, obs.value, summary, description, service))
            states.append((state, obs))
        try:
            results = alerts_fire(firings=firings, now=self.now)
        except Exception:
            # One broken label set must not keep the others from firing: one at a time, each isolated.
            log.warning("alert evaluation: firing %s alerts at once failed; one at a time", len(firings), exc_info=True)
            results = [_safely(alerts_fire, firings=[firing], now=self.now, report=self.report) for firing in firings]
            results = [result[0] if result else None for result in results]
        for (state, obs), result in zip(states, results, strict=True):
            if result is not None:
                self.report.fired += int(result[1])
                self._touch(state, value=obs.value)

    def _reopen(self, alert: Alert, obs: Observation, summary: str, description: str) -> bool:
        try:
            alert_reopen(
                alert=alert,
                by=None,
                via=EVALUATOR,
                reason="condition still true",
                value=obs.value,
                summary=summary,
                description=description,
                now=self.now,
            )
        except TransitionNotAllowed:
            return False  # reopened meanwhile, or a newer alert is open: fire as usual
        self.report.reopened += 1
        return True

    def _resolved_by_people(self, opening: list) -> dict[str, Alert]:
        """By fingerprint, the latest alert a person resolved since its label set became active."""
        since = min(state.active_since for *_, state in opening)
        found: dict[str, Alert] = {}
        for fps in chunks([fp for _, fp, _, _ in opening]):
            resolved = Alert.objects.filter(
                fingerprint__in=fps, status=AlertStatus.RESOLVED, resolved_by__isnull=False, resolved_at__gte=since
            )
            for alert in resolved.order_by("resolved_at", "id"):
                found[alert.fingerprint] = alert  # the latest wins
        return found

    def _touch(self, state: RuleState, *, value, **changes) -> None:
        for name, new in changes.items():
            setattr(state, name, new)
        state.value = value
        state.changed_at = self.now
        if state.pk is not None:
            self.changed[state.pk] = state

    def save(self) -> None:
        with full_batches():
            if self.created:
                RuleState.objects.bulk_create(self.created, ignore_conflicts=True)
            if self.changed:
                bulk_set(list(self.changed.values()), ["active_since", "value", "changed_at"])
        for start in range(0, len(self.forgotten), 500):
            RuleState.objects.filter(pk__in=self.forgotten[start : start + 500], active_since__isnull=True).delete()

    def forget_vanished(self, observed: dict[int, dict[str, Observation]]) -> None:
        """Drop ok states of label sets that have sent no data for a while (a replaced host, an
        old route): they carry nothing an evaluation needs, and every minute loads all states.
        Should the series come back, a new state starts exactly as an ok one would."""
        cutoff = self.now - FORGET_AFTER
        for (rule_id, fp), state in self.states.items():
            if (
                state.pk is not None
                and state.active_since is None
                and state.changed_at < cutoff
                and fp not in observed.get(rule_id, {})
            ):
                self.forgotten.append(state.pk)


def rules_evaluate(*, now: datetime | None = None) -> EvaluationReport:
    """Evaluate every enabled rule once; safe to run twice for the same minute."""
    started = time.perf_counter()
    now = now or timezone.now()
    report = EvaluationReport()
    # Error-group and external (receiver) rules have nothing to evaluate: their alerts are opened
    # as events or payloads arrive, and they must not look "cleared" here for lack of observations.
    rules = list(
        AlertRule.objects.filter(enabled=True)
        .exclude(source__in=(RuleSource.ERROR_GROUP, RuleSource.EXTERNAL))
        .select_related("service")
    )
    report.rules = len(rules)
    # A rule saved before a matcher rule tightened (RE2 syntax, pattern length) is skipped and
    # reported; its open alerts stay as they are rather than resolve for lack of data.
    rules = [rule for rule in rules if _safely(rule.all_matchers, report=report) is not None]
    # So is one whose window or `for` lies outside the model's bounds (written around validation):
    # `now - window` could overflow and stop the evaluation of every rule.
    rules = [rule for rule in rules if not _out_of_bounds(rule, report)]
    metric_rules = [r for r in rules if r.source == RuleSource.METRIC and r.metric]
    observed = _metric_observations(metric_rules, now=now, report=report)
    # A metric rule that failed there has no entry (not an empty one): skip it rather than let
    # its firing label sets look vanished and resolve.
    failed = {r.pk for r in metric_rules if r.pk not in observed}
    rules = [rule for rule in rules if rule.pk not in failed]
    observed.update(_health_observations([r for r in rules if r.source == RuleSource.HEALTH_CHECK]))
    evaluator = _Evaluator(rules, now=now, report=report)
    watched: dict[int, set[str]] = defaultdict(set)  # label sets that are pending/firing now
    for (rule_id, fp), state in evaluator.states.items():
        if state.active_since is not None:
            watched[rule_id].add(fp)
    for fp, alert in evaluator.open.items():
        watched[alert.rule_id].add(fp)
    for rule in rules:
        seen = observed.get(rule.pk, {})
        report.series += len(seen)
        for fp, obs in seen.items():
            _safely(evaluator.step, rule, fp, obs, report=report)
        # Label sets that vanished (no data in the window) count as "condition false".
        for fp in watched[rule.pk] - seen.keys():
            state = evaluator.states.get((rule.pk, fp))
            labels = state.labels if state else evaluator.open[fp].labels
            _safely(evaluator.step, rule, fp, Observation(labels, None, False), report=report)
    evaluator.resolve_all()
    evaluator.open_all()
    evaluator.forget_vanished(observed)
    evaluator.save()
    _close_orphans(now=now, report=report)
    report.seconds = time.perf_counter() - started
    return report


def _close_orphans(*, now: datetime, report: EvaluationReport) -> None:
    """Open alerts nothing evaluates any more: their rule was deleted (e.g. with its service) or
    disabled without going through `rule_delete`/`rule_disable` (a shell, a bulk update): the
    latter are closed by `rule_disable`, like any other way of disabling a rule."""
    orphans = Alert.objects.open().filter(Q(rule__isnull=True) | Q(rule__enabled=False)).select_related("rule")
    disabled: dict[int, AlertRule] = {}
    for alert in orphans[:500]:
        if alert.rule_id:
            disabled[alert.rule_id] = alert.rule
        else:
            done = _safely(
                alert_resolve, alert=alert, by=None, via="rule change", reason="rule deleted", now=now, report=report
            )
            report.resolved += int(done is not None)
    for rule in disabled.values():
        report.resolved += _safely(rule_disable, rule=rule, by=None, via="rule change", now=now, report=report) or 0


def _out_of_bounds(rule: AlertRule, report: EvaluationReport) -> bool:
    problem = rule.out_of_bounds()
    if problem:
        log.error("alert evaluation: rule %s skipped: %s", rule.pk, problem)
        report.errors.append(f"rule {rule.pk} ({rule.name}) skipped: {problem}")
    return bool(problem)


def _safely(func, *args, report: EvaluationReport, **kwargs):
    """One broken rule must not stop the others from being evaluated. None when it failed."""
    try:
        return func(*args, **kwargs)
    except Exception as exc:
        log.exception("alert evaluation failed")
        report.errors.append(f"{type(exc).__name__}: {exc}")
        return None
