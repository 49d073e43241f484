"""Storing error events: check, scrub, group and save a batch in a bounded number of queries.

`events_store` is the one way events enter the database (the Sentry ingest, capture_exception
and the portal's own hooks all call it). Per batch, whatever its size: one read for known event
ids, one for the groups (plus one insert and one re-read for new ones), one insert of events,
one upsert of hour buckets, two for distinct users, one UPDATE of the groups touched (executemany;
counters added in SQL, so two processes storing into one group both count), and the regression
check.
Idempotent: an event_id already stored for the service is answered "duplicate" and not counted.
"""

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from monitoring.errors import alerts
from monitoring.errors.models import (
    ActivityKind,
    ErrorEvent,
    ErrorGroup,
    ErrorGroupActivity,
    ErrorGroupHour,
    ErrorGroupUser,
    ErrorInbox,
    ErrorProject,
    GroupStatus,
)
from monitoring.errors.normalize import MAX_EVENTS_PER_BATCH, Refused, event_normalize
from portal.lib.bulk import chunks, full_batches

log = logging.getLogger(__name__)

STORED, DUPLICATE, REFUSED = "stored", "duplicate", "refused"
PREPARED = "prepared"  # checked and scrubbed, not stored yet (events_prepare)
MAX_MERGE_HOPS = 10  # merged_into chains are followed this far (a merge into a merged group)


@dataclass
class EventOutcome:
    """What happened to one event of a batch: stored, duplicate (same event_id seen before) or refused."""

    event_id: str
    status: str  # STORED | DUPLICATE | REFUSED (PREPARED between events_prepare and the store)
    group_id: int | None = None
    reason: str = ""  # for refused: "<field>: <why>"


@dataclass
class StoreResult:
    outcomes: list[EventOutcome] = field(default_factory=list)
    new_groups: list[int] = field(default_factory=list)
    regressed_groups: list[int] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == STORED)

    @property
    def refused(self) -> list[EventOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == REFUSED]


def hour_of(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def events_store(*, service, events: list[dict], now: datetime | None = None) -> StoreResult:
    """Store a batch of Sentry-format events for `service`; one outcome per event, in order."""
    now = now or timezone.now()
    result, ready = events_prepare(events, now=now)
    return _store_ready(service, result, ready, now=now)


def events_prepare(events: list[dict], *, now: datetime) -> tuple[StoreResult, list[tuple[int, dict]]]:
    """Normalize, scrub and fingerprint a batch without touching the database: the outcomes so far
    (refused, or duplicate within the batch) and (index, prepared item) for the rest. The ingest
    endpoint does this on the request and leaves the storing to the inbox drain (inbox.py)."""
    result = StoreResult(outcomes=[EventOutcome(event_id="", status=REFUSED) for _ in events])
    ready: list[tuple[int, dict]] = []
    seen_ids: set[str] = set()
    for index, event in enumerate(events):
        outcome = result.outcomes[index]
        if index >= MAX_EVENTS_PER_BATCH:
            outcome.reason = f"events: at most {MAX_EVENTS_PER_BATCH} per batch"
            continue
        try:
            item = event_normalize(event, now=now)
        except Refused as exc:
            outcome.event_id = _raw_id(event)
            outcome.reason = str(exc)
            continue
        item["event_id"] = item["event_id"] or uuid.uuid4().hex
        outcome.event_id = item["event_id"]
        if item["event_id"] in seen_ids:
            outcome.status = DUPLICATE
            continue
        seen_ids.add(item["event_id"])
        outcome.status = PREPARED
        ready.append((index, item))
    return result, ready


def events_store_prepared(*, service, items: list[dict], now: datetime | None = None) -> StoreResult:
    """Store items `events_prepare` made (kept in the inbox meanwhile); one outcome per item."""
    now = now or timezone.now()
    result = StoreResult(outcomes=[EventOutcome(event_id=item["event_id"], status=PREPARED) for item in items])
    ready: list[tuple[int, dict]] = []
    seen_ids: set[str] = set()
    for index, item in enumerate(items):
        if item["event_id"] in seen_ids:
            result.outcomes[index].status = DUPLICATE
            continue
        seen_ids.add(item["event_id"])
        ready.append((index, item))
    return _store_ready(service, result, ready, now=now)


def _store_ready(service, result: StoreResult, ready: list[tuple[int, dict]], *, now: datetime) -> StoreResult:
    if not ready:
        return result
    known = _known_ids(service, [item["event_id"] for _, item in ready])
    for index, item in ready:
        if item["event_id"] in known:
            result.outcomes[index].status = DUPLICATE
    ready = [(index, item) for index, item in ready if item["event_id"] not in known]
    if not ready:
        return result
    groups, created = _groups_for(service, [item for _, item in ready])
    with transaction.atomic(), full_batches():
        regressed = _write(service, ready, groups, now=now)
    for index, item in ready:
        outcome = result.outcomes[index]
        outcome.status, outcome.group_id = STORED, groups[item["fingerprint"]].pk
    result.new_groups = sorted({groups[fp].pk for fp in created})
    result.regressed_groups = regressed
    _alert(service, result, groups, now=now)
    return result


def _raw_id(event) -> str:
    raw = event.get("event_id") if isinstance(event, dict) else None
    return raw[:64] if isinstance(raw, str) else ""


def _known_ids(service, ids: list[str]) -> set[str]:
    known: set[str] = set()
    for part in chunks(ids):
        known.update(ErrorEvent.objects.filter(service=service, event_id__in=part).values_list("event_id", flat=True))
    return known


def _groups_for(service, items: list[dict]) -> tuple[dict[str, ErrorGroup], set[str]]:
    """fingerprint -> the group its events go to (a merged group's target), and the new fingerprints."""
    fingerprints = sorted({item["fingerprint"] for item in items})
    found = _fetch_groups(service, fingerprints)
    missing = [fp for fp in fingerprints if fp not in found]
    if missing:
        first: dict[str, dict] = {}
        for item in sorted(items, key=lambda item: item["time"]):
            first.setdefault(item["fingerprint"], item)
        rows = [
            ErrorGroup(
                service=service,
                fingerprint=fp,
                title=first[fp]["title"],
                culprit=first[fp]["culprit"],
                level=first[fp]["level"],
                first_seen=first[fp]["time"],
                last_seen=first[fp]["time"],
                first_release=first[fp]["release"],
                last_release=first[fp]["release"],
            )
            for fp in missing
        ]
        # A concurrent batch may create the same group: the unique constraint keeps one.
        with full_batches():
            ErrorGroup.objects.bulk_create(rows, ignore_conflicts=True)
        found.update(_fetch_groups(service, missing))
    created = {fp for fp in missing if found[fp].times_seen == 0}
    return _follow_merges(found), created


def _fetch_groups(service, fingerprints: list[str]) -> dict[str, ErrorGroup]:
    found: dict[str, ErrorGroup] = {}
    for part in chunks(fingerprints):
        for group in ErrorGroup.objects.filter(service=service, fingerprint__in=part):
            found[group.fingerprint] = group
    return found


def _follow_merges(groups: dict[str, ErrorGroup]) -> dict[str, ErrorGroup]:
    targets: dict[int, ErrorGroup] = {g.pk: g for g in groups.values()}
    for _ in range(MAX_MERGE_HOPS):
        wanted = {g.merged_into_id for g in targets.values() if g.merged_into_id and g.merged_into_id not in targets}
        if not wanted:
            break
        targets.update({g.pk: g for g in ErrorGroup.objects.filter(pk__in=wanted)})

    def final(group: ErrorGroup) -> ErrorGroup:
        for _ in range(MAX_MERGE_HOPS):
            if not group.merged_into_id or group.merged_into_id not in targets:
                break
            group = targets[group.merged_into_id]
        return group

    return {fp: final(group) for fp, group in groups.items()}


def _write(service, ready: list[tuple[int, dict]], groups: dict[str, ErrorGroup], *, now: datetime) -> list[int]:
    per_group: dict[int, list[dict]] = defaultdict(list)
    for _, item in ready:
        per_group[groups[item["fingerprint"]].pk].append(item)
    regressed = _regress(list(per_group), now=now)
    # The same event_id stored concurrently: the first one wins (ignore_conflicts, ON CONFLICT DO NOTHING).
    ErrorEvent.objects.bulk_create(
        [_event_row(service, groups[item["fingerprint"]], item, now=now) for _, item in ready if "event" in item],
        ignore_conflicts=True,
    )
    _events_from_inbox([(groups[item["fingerprint"]].pk, item["inbox_id"]) for _, item in ready if "inbox_id" in item])
    _groups_update(per_group, _count_users(per_group))
    _hours_add(per_group)
    return regressed


def _groups_update(per_group: dict[int, list[dict]], users: dict[int, int]) -> None:
    """Counters, times, level and releases of every group touched: one UPDATE statement run for
    all of them with executemany (one round trip; the ORM's per-group update was two queries per
    group, and one CASE update spends longer building its expression than the database running it).
    Columns added to (times_seen) or compared (first/last seen) never lose a concurrent batch's work."""
    q = connection.ops.quote_name
    table = q(ErrorGroup._meta.db_table)
    times_seen, last_seen, first_seen, level, last_release, first_release, users_affected, pk = (
        q(name)
        for name in (
            "times_seen",
            "last_seen",
            "first_seen",
            "level",
            "last_release",
            "first_release",
            "users_affected",
            "id",
        )
    )
    # Names are the model's own, quoted; values are parameters.
    sql = (
        f"UPDATE {table} SET {times_seen} = {times_seen} + %s, "  # noqa: S608
        f"{last_seen} = CASE WHEN {last_seen} >= %s THEN {last_seen} ELSE %s END, "
        f"{first_seen} = CASE WHEN {first_seen} <= %s THEN {first_seen} ELSE %s END, "
        f"{level} = %s, "
        f"{last_release} = CASE WHEN %s = '' THEN {last_release} ELSE %s END, "
        f"{first_release} = CASE WHEN {first_release} = '' THEN %s ELSE {first_release} END, "
        f"{users_affected} = CASE WHEN %s < 0 THEN {users_affected} ELSE %s END "
        f"WHERE {pk} = %s"
    )
    prep = ErrorGroup._meta.get_field("last_seen").get_db_prep_value
    params = []
    for group_id in sorted(per_group):  # one order for every batch: no lock-order deadlocks on PostgreSQL
        items = per_group[group_id]
        latest = max(items, key=lambda item: item["time"])
        last, first = prep(latest["time"], connection), prep(min(item["time"] for item in items), connection)
        releases = [item["release"] for item in items if item["release"]]
        release, first_release_value = (releases[-1], releases[0]) if releases else ("", "")
        affected = users.get(group_id, -1)
        counts = (len(items), last, last, first, first, latest["level"])
        params.append((*counts, release, release, first_release_value, affected, affected, group_id))
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# Columns an inbox row shares with ErrorEvent, copied inside the database by _events_from_inbox.
EVENT_COLUMNS = (
    "service_id", "event_id", "time", "received_at", "level", "message", "platform", "logger", "transaction",
    "server_name", "release", "environment", "tags", "user", "request", "exception", "data",
)  # fmt: skip
_DATA_KEYS = ("contexts", "extra", "sdk", "breadcrumbs", "fingerprint", "logentry")


def event_data(event: dict) -> dict:
    """ErrorEvent.data of a prepared event: its free-form parts that are not columns of their own."""
    return {key: event[key] for key in _DATA_KEYS if event[key]}


def _events_from_inbox(pairs: list[tuple[int, int]]) -> None:
    """(group id, inbox row id) -> ErrorEvent rows, copied with INSERT … SELECT: the stack and the
    other large parts go from one table to the other without being decoded or encoded in Python
    (they were encoded once, on the request). One statement run with executemany."""
    if not pairs:
        return
    q = connection.ops.quote_name
    columns = ", ".join(q(name) for name in EVENT_COLUMNS)
    # Names are the models' own, quoted; values are parameters.
    sql = (
        f"INSERT INTO {q(ErrorEvent._meta.db_table)} ({q('group_id')}, {columns}) "  # noqa: S608
        f"SELECT %s, {columns} FROM {q(ErrorInbox._meta.db_table)} WHERE {q('id')} = %s "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, pairs)


def _event_row(service, group: ErrorGroup, item: dict, *, now: datetime) -> ErrorEvent:
    event = item["event"]
    return ErrorEvent(
        group=group,
        service=service,
        event_id=item["event_id"],
        time=item["time"],
        received_at=now,
        level=event["level"],
        message=event["message"],
        platform=event["platform"],
        logger=event["logger"],
        transaction=event["transaction"],
        server_name=event["server_name"],
        release=event["release"],
        environment=event["environment"],
        tags=event["tags"],
        user=event["user"],
        request=event["request"],
        exception=event["exception"]["values"],
        data=event_data(event),
    )


def _regress(group_ids: list[int], *, now: datetime) -> list[int]:
    """Resolved groups that got new events go back to unresolved, with a `regressed` activity row.
    Ignored groups stay ignored (that is what ignoring is for). Locked: two batches regress once."""
    resolved = list(
        ErrorGroup.objects.select_for_update()
        .filter(pk__in=group_ids, status=GroupStatus.RESOLVED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not resolved:
        return []
    ErrorGroup.objects.filter(pk__in=resolved).update(status=GroupStatus.UNRESOLVED, status_changed_at=now)
    ErrorGroupActivity.objects.bulk_create(
        [ErrorGroupActivity(group_id=pk, kind=ActivityKind.REGRESSED, created_at=now, via="ingest") for pk in resolved]
    )
    return resolved


def _count_users(per_group: dict[int, list[dict]]) -> dict[int, int]:
    """Distinct users per group, stored as hashes, exact up to ERRORS_USERS_TRACKED per group."""
    cap = settings.ERRORS_USERS_TRACKED
    rows = {
        (group_id, item["user_hash"]) for group_id, items in per_group.items() for item in items if item["user_hash"]
    }
    if not rows:
        return {}
    touched = sorted({group_id for group_id, _ in rows})
    full = set(ErrorGroup.objects.filter(pk__in=touched, users_affected__gte=cap).values_list("pk", flat=True))
    new = [ErrorGroupUser(group_id=g, user_hash=h) for g, h in sorted(rows) if g not in full]
    ErrorGroupUser.objects.bulk_create(new, ignore_conflicts=True)
    counted = ErrorGroupUser.objects.filter(group_id__in=[g for g in touched if g not in full])
    return {row["group_id"]: min(row["n"], cap) for row in counted.values("group_id").annotate(n=Count("id"))}


def _hours_add(per_group: dict[int, list[dict]]) -> None:
    """Add to the hour buckets: INSERT … ON CONFLICT DO UPDATE count = count + new (SQLite and
    PostgreSQL), so concurrent batches add up instead of overwriting each other."""
    counts: dict[tuple[int, datetime], int] = defaultdict(int)
    for group_id, items in per_group.items():
        for item in items:
            counts[(group_id, hour_of(item["time"]))] += 1
    q = connection.ops.quote_name
    table, group, hour, count = (q(name) for name in (ErrorGroupHour._meta.db_table, "group_id", "hour", "count"))
    # Names are the model's own, quoted; values are parameters.
    sql = (
        f"INSERT INTO {table} ({group}, {hour}, {count}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({group}, {hour}) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}"
    )
    hour_field = ErrorGroupHour._meta.get_field("hour")
    params = [
        (group_id, hour_field.get_db_prep_value(hour, connection), n) for (group_id, hour), n in sorted(counts.items())
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _alert(service, result: StoreResult, groups: dict[str, ErrorGroup], *, now: datetime) -> None:
    """Alerts for new and regressed groups when the service asked for them. After the events are
    committed, and never failing the store: the events are what must not be lost."""
    if not result.new_groups and not result.regressed_groups:
        return
    try:
        project = ErrorProject.for_service(service)
        wanted = []
        if project.alert_on_new:
            wanted += [(pk, "new") for pk in result.new_groups]
        if project.alert_on_regression:
            wanted += [(pk, "regressed") for pk in result.regressed_groups]
        if wanted:
            by_pk = {group.pk: group for group in groups.values()}
            alerts.groups_alert(service=service, groups=[(by_pk[pk], why) for pk, why in wanted], now=now)
    except Exception:  # alerting must never lose the events already stored
        log.exception("error-group alerts for %s failed", service)
