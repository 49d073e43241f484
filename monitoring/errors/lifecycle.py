"""Error-group transitions, one function each: the only code that changes a group's status or merges.

Each locks the row, checks the allowed starting states here and nowhere else, saves only the
fields it changed and writes an ErrorGroupActivity row. Pages, the API and the admin call these;
the store's regression (resolved → unresolved when seen again) is the one automatic transition.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from monitoring.errors.alerts import group_alerts_resolve
from monitoring.errors.models import ActivityKind, ErrorEvent, ErrorGroup, ErrorGroupActivity, GroupStatus

UNRESOLVED, RESOLVED, IGNORED = GroupStatus.UNRESOLVED, GroupStatus.RESOLVED, GroupStatus.IGNORED
MAX_REASON = 1000


class TransitionNotAllowed(Exception):
    """The group is not in a state this action applies to (shown to the person as is)."""

    def __init__(self, group: ErrorGroup, action: str, message: str | None = None):
        self.group, self.action = group, action
        super().__init__(message or f"Cannot {action} error group #{group.pk}: it is {group.status}.")


def _lock(group: ErrorGroup | int) -> ErrorGroup:
    pk = group if isinstance(group, int) else group.pk
    return ErrorGroup.objects.select_for_update(of=("self",)).select_related("service").get(pk=pk)


def _person(by):
    return by if getattr(by, "pk", None) else None


def _status(
    group, *, to: str, allowed: tuple, action: str, kind: str, by, via: str, reason: str, now: datetime | None
) -> ErrorGroup:
    now = now or timezone.now()
    with transaction.atomic():
        group = _lock(group)
        if group.merged_into_id:
            raise TransitionNotAllowed(
                group, action, f"Error group #{group.pk} was merged into #{group.merged_into_id}."
            )
        if group.status not in allowed:
            raise TransitionNotAllowed(group, action)
        group.status, group.status_changed_at = to, now
        group.save(update_fields=["status", "status_changed_at"])
        ErrorGroupActivity.objects.create(
            group=group, kind=kind, created_at=now, actor=_person(by), via=via, message=reason[:MAX_REASON]
        )
        if to != UNRESOLVED:
            group_alerts_resolve(group=group, by=_person(by), via=via, now=now)
    return group


def group_resolve(*, group: ErrorGroup | int, by, via: str, reason: str = "", now: datetime | None = None):
    """Resolved: the next event of this group is a regression (reopens it, may alert)."""
    return _status(
        group, to=RESOLVED, allowed=(UNRESOLVED, IGNORED), action="resolve", kind=ActivityKind.RESOLVED,
        by=by, via=via, reason=reason, now=now,
    )  # fmt: skip


def group_ignore(*, group: ErrorGroup | int, by, via: str, reason: str = "", now: datetime | None = None):
    """Ignored: events are still counted, but the group leaves the default list and never regresses."""
    return _status(
        group, to=IGNORED, allowed=(UNRESOLVED, RESOLVED), action="ignore", kind=ActivityKind.IGNORED,
        by=by, via=via, reason=reason, now=now,
    )  # fmt: skip


def group_unresolve(*, group: ErrorGroup | int, by, via: str, reason: str = "", now: datetime | None = None):
    """Back to unresolved (reopen a resolved group, stop ignoring one)."""
    return _status(
        group, to=UNRESOLVED, allowed=(RESOLVED, IGNORED), action="unresolve", kind=ActivityKind.UNRESOLVED,
        by=by, via=via, reason=reason, now=now,
    )  # fmt: skip


def group_merge(*, source: ErrorGroup | int, target: ErrorGroup | int, by, via: str, now: datetime | None = None):
    """Fold `source` into `target` (same service): its events and counts move to the target, and
    later events with either fingerprint go to the target (the store follows `merged_into`).

    Hour buckets are added into the target's; users_affected takes the larger of the two (the
    per-group user rows are not merged: a sum would count people seen in both twice)."""
    now = now or timezone.now()
    source_pk = source if isinstance(source, int) else source.pk
    target_pk = target if isinstance(target, int) else target.pk
    with transaction.atomic():
        # Locked in id order, so two merges of the same pair in opposite directions cannot deadlock.
        first, second = sorted((source_pk, target_pk))
        locked = {first: _lock(first), second: _lock(second)}
        source, target = locked[source_pk], locked[target_pk]
        if source.pk == target.pk:
            raise TransitionNotAllowed(source, "merge", "A group cannot be merged into itself.")
        if source.service_id != target.service_id:
            raise TransitionNotAllowed(source, "merge", "Only groups of the same service can be merged.")
        for group in (source, target):
            if group.merged_into_id:
                raise TransitionNotAllowed(
                    group, "merge", f"Error group #{group.pk} was already merged into #{group.merged_into_id}."
                )
        ErrorEvent.objects.filter(group=source).update(group=target)
        _hours_move(source, target)
        ErrorGroup.objects.filter(pk=target.pk).update(
            times_seen=F("times_seen") + source.times_seen,
            users_affected=Greatest(F("users_affected"), source.users_affected),
            first_seen=Least(F("first_seen"), source.first_seen),
            last_seen=Greatest(F("last_seen"), source.last_seen),
        )
        ErrorGroup.objects.filter(pk=source.pk).update(merged_into=target, status_changed_at=now)
        # Groups merged into the source earlier now point at the target directly.
        ErrorGroup.objects.filter(merged_into=source).update(merged_into=target)
        actor = _person(by)
        ErrorGroupActivity.objects.bulk_create(
            [
                ErrorGroupActivity(
                    group=target, kind=ActivityKind.MERGED, created_at=now, actor=actor, via=via,
                    message=f"#{source.pk} {source.title}"[:MAX_REASON], details={"source": source.pk},
                ),
                ErrorGroupActivity(
                    group=source, kind=ActivityKind.MERGED, created_at=now, actor=actor, via=via,
                    message=f"into #{target.pk}", details={"target": target.pk},
                ),
            ]
        )  # fmt: skip
        group_alerts_resolve(group=source, by=actor, via=via, now=now)
    target.refresh_from_db()
    return target


def _hours_move(source: ErrorGroup, target: ErrorGroup) -> None:
    theirs = dict(target.hours.values_list("hour", "pk"))
    for bucket in source.hours.all():
        if bucket.hour in theirs:
            target.hours.filter(pk=theirs[bucket.hour]).update(count=F("count") + bucket.count)
            bucket.delete()
        else:
            type(bucket).objects.filter(pk=bucket.pk).update(group=target)
