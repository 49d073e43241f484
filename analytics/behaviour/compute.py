"""The portal's side of behaviour analysis: stream a service's events out of the database in index
order into the framework-free analyses, answer from a stored result when there is one, compute on
demand when the question is small, and store what the daily job computes.

Every stream is `.values_list(...).order_by(<an index>).iterator(chunk_size=...)`: rows arrive
in chunks in the order the analysis needs, so no step holds the event table (nor one range of it).
"""

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from analytics.behaviour.advice import funnel_advice, path_advice, unused_advice
from analytics.behaviour.funnels import funnel_from
from analytics.behaviour.paths import PathStats
from analytics.behaviour.retention import retention_from, week_of, week_start
from analytics.behaviour.sessions import SessionCounts, sessions_from
from analytics.models import UsageEvent
from analytics.models_behaviour import BehaviourResult
from portal.lib.sqltime import EpochSeconds

CHUNK = 5000  # rows per fetch: a few hundred kB in flight whatever the range
TOP_PATHS = 50  # per length, stored; the API and pages show fewer
TOP_FEATURES = 200  # the most used features, whose next steps are stored
TOP_OUTCOMES = 20
DEFAULT_KINDS = (UsageEvent.Kind.FEATURE,)


class TooManyEvents(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"more than {limit} events")


@dataclass
class Answer:
    data: dict
    source: str  # "stored" or "live"
    computed_at: datetime
    events: int
    since: datetime
    until: datetime


def params_hash(kind: str, params: dict) -> str:
    canonical = json.dumps({"kind": kind, **params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def day_window(days: int, *, now: datetime) -> tuple[datetime, datetime]:
    """The last `days` whole UTC days, ending at today's midnight UTC (what the daily job stores)."""
    until = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return until - timedelta(days=days), until


def _events(service, since, until, kinds):
    return UsageEvent.objects.filter(service=service, time__gte=since, time__lt=until, kind__in=list(kinds))


class Counted:
    """Counts the rows an iterator yields, for the stored result's `events`."""

    def __init__(self, rows):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


# Streams, each in the order of an index of UsageEvent; times as epoch seconds.


def session_rows(*, service, since, until, kinds) -> Iterator[tuple]:
    """(session_id, user_id, time, name) in (service, session_id, time) order."""
    rows = _events(service, since, until, kinds).values_list("session_id", "user_id", EpochSeconds("time"), "name")
    return rows.order_by("service_id", "session_id", "time").iterator(chunk_size=CHUNK)


def actor_rows(*, service, since, until, kinds, names) -> Iterator[tuple]:
    """(actor, time, name) for the funnel: users by (service, user_id, time), then the sessions of
    events sent without a user id by (service, session_id, time)."""
    base = _events(service, since, until, kinds).filter(name__in=list(names))
    users = (
        base.exclude(user_id="")
        .values_list("user_id", EpochSeconds("time"), "name")
        .order_by("service_id", "user_id", "time")
        .iterator(chunk_size=CHUNK)
    )
    anonymous = (
        base.filter(user_id="")
        .exclude(session_id="")
        .values_list("session_id", EpochSeconds("time"), "name")
        .order_by("service_id", "session_id", "time")
        .iterator(chunk_size=CHUNK)
    )
    return chain((("u:" + u, t, n) for u, t, n in users), (("s:" + s, t, n) for s, t, n in anonymous))


def user_rows(*, service, until, kinds) -> Iterator[tuple]:
    """(user_id, time, name) in (service, user_id, time) order, from the first event kept: a
    user's first use decides their cohort, so the range's start cannot cut the history."""
    rows = UsageEvent.objects.filter(service=service, time__lt=until, kind__in=list(kinds)).exclude(user_id="")
    rows = rows.values_list("user_id", EpochSeconds("time"), "name").order_by("service_id", "user_id", "time")
    return rows.iterator(chunk_size=CHUNK)


def question_size(*, kind: str, service, since, until, params: dict, limit: int) -> int:
    """Events the question would read, counted up to limit + 1 (a bounded count)."""
    kinds = params["kinds"]
    if kind == BehaviourResult.Kind.RETENTION:
        rows = UsageEvent.objects.filter(service=service, time__lt=until, kind__in=kinds).exclude(user_id="")
    else:
        rows = _events(service, since, until, kinds)
        if kind == BehaviourResult.Kind.FUNNEL:
            rows = rows.filter(name__in=params["steps"])
    return rows.order_by().values("id")[: limit + 1].count()


# The analyses.


def paths_compute(*, service, since, until, params: dict) -> tuple[dict, int]:
    counts = SessionCounts()
    rows = session_rows(service=service, since=since, until=until, kinds=params["kinds"])
    stats = PathStats(within=params["within"])
    stats.add_all(sessions_from(rows, timeout=params["timeout"], counts=counts))
    advice = path_advice(stats)
    # "Unused for 30 days" looks at each feature's last use ever (the (service, name, time) index).
    last_used = (
        UsageEvent.objects.filter(service=service, kind__in=params["kinds"], time__lt=until)
        .values("name")
        .annotate(last=Max("time"))
        .order_by("last")[:10]
    )
    advice += unused_advice({r["name"]: r["last"].timestamp() for r in last_used}, now=until.timestamp())
    data = {
        "summary": {**stats.summary(), "events": counts.events, "unattributed": counts.unattributed, "cut": counts.cut},
        "paths": stats.paths(top=TOP_PATHS),
        "next_steps": stats.next_steps(top=TOP_OUTCOMES, features=TOP_FEATURES),
        "pairs": stats.pairs_within(top=TOP_PATHS),
        "advice": advice,
    }
    return data, counts.events


def funnel_compute(*, service, since, until, params: dict) -> tuple[dict, int]:
    rows = Counted(actor_rows(service=service, since=since, until=until, kinds=params["kinds"], names=params["steps"]))
    data = funnel_from(rows, params["steps"], window=params["window"]).result()
    data["advice"] = funnel_advice(data)
    return data, rows.count


def retention_weeks(since: datetime, until: datetime) -> tuple[int, int]:
    """[first, end) weeks: from the week holding `since` to the one holding the last moment before `until`."""
    return week_of(since.timestamp()), week_of(until.timestamp() - 1e-6) + 1


def retention_compute(*, service, since, until, params: dict) -> tuple[dict, int]:
    rows = Counted(user_rows(service=service, until=until, kinds=params["kinds"]))
    first, end = retention_weeks(since, until)
    stats = retention_from(
        rows, first_week=first, end_week=end, start_event=params["start_event"], return_event=params["return_event"]
    )
    data = stats.result()
    data["outside"] = stats.outside
    return data, rows.count


COMPUTE = {
    BehaviourResult.Kind.PATHS: paths_compute,
    BehaviourResult.Kind.FUNNEL: funnel_compute,
    BehaviourResult.Kind.RETENTION: retention_compute,
}


def result_store(*, kind, service, since, until, params, data, events, seconds, now) -> BehaviourResult:
    row, _ = BehaviourResult.objects.update_or_create(
        service=service,
        kind=kind,
        params_hash=params_hash(kind, params),
        period_start=since,
        period_end=until,
        defaults={"params": params, "data": data, "events": events, "computed_at": now, "seconds": seconds},
    )
    return row


def result_compute(*, kind, service, since, until, params, now=None) -> BehaviourResult | Answer:
    """Compute now; store it when the period has ended (a later question reads the row)."""
    now = now or timezone.now()
    started = time.perf_counter()
    data, events = COMPUTE[kind](service=service, since=since, until=until, params=params)
    seconds = round(time.perf_counter() - started, 3)
    if until <= now:
        return result_store(
            kind=kind, service=service, since=since, until=until, params=params, data=data, events=events,
            seconds=seconds, now=now,
        )  # fmt: skip
    return Answer(data=data, source="live", computed_at=now, events=events, since=since, until=until)


def behaviour_answer(*, kind, service, since, until, params, now=None, limit=None) -> Answer:
    """The stored result for exactly this question, else one computed on demand when it reads at
    most `limit` events (ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS); TooManyEvents otherwise."""
    limit = settings.ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS if limit is None else limit
    stored = BehaviourResult.objects.filter(
        service=service, kind=kind, params_hash=params_hash(kind, params), period_start=since, period_end=until
    ).first()
    if stored is not None:
        return Answer(stored.data, "stored", stored.computed_at, stored.events, since, until)
    if question_size(kind=kind, service=service, since=since, until=until, params=params, limit=limit) > limit:
        raise TooManyEvents(limit)
    found = result_compute(kind=kind, service=service, since=since, until=until, params=params, now=now)
    if isinstance(found, Answer):
        return found
    return Answer(found.data, "live", found.computed_at, found.events, since, until)


# The defaults the daily job stores, and the API reads when a question has no range of its own.


def default_params(kind: str, **given) -> dict:
    params = {"kinds": sorted(given.pop("kinds", None) or DEFAULT_KINDS)}
    if kind == BehaviourResult.Kind.PATHS:
        params["timeout"] = given.pop("timeout", None) or settings.ANALYTICS_BEHAVIOUR_SESSION_TIMEOUT_SECONDS
        params["within"] = given.pop("within", None) or 30
    elif kind == BehaviourResult.Kind.FUNNEL:
        params["steps"] = list(given.pop("steps"))
        params["window"] = given.pop("window", None) or 86_400
    else:
        params["start_event"] = given.pop("start_event", None) or None
        params["return_event"] = given.pop("return_event", None) or None
    if given:
        raise TypeError(f"unknown parameters: {sorted(given)}")
    return params


def retention_window(weeks: int, *, now: datetime) -> tuple[datetime, datetime]:
    """`weeks` UTC weeks up to today's midnight UTC: the current week so far is the last one (what
    the daily job stores)."""
    _, until = day_window(1, now=now)
    _, end = retention_weeks(until, until)
    return week_start(end - weeks), until
