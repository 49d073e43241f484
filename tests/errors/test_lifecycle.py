from datetime import UTC, datetime, timedelta

import pytest

from monitoring.errors.lifecycle import (
    TransitionNotAllowed,
    group_ignore,
    group_merge,
    group_resolve,
    group_unresolve,
)
from monitoring.errors.models import ActivityKind, ErrorEvent, ErrorGroup, ErrorGroupHour, GroupStatus
from monitoring.errors.store import events_store
from tests.errors.builders import event, exception, frame

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def _group(service, function: str, n: int = 1, *, when=NOW, user_prefix="u") -> ErrorGroup:
    body = [
        event(exception(frames=[frame("shop.views", function)]), user={"id": f"{user_prefix}{i}"}) for i in range(n)
    ]
    for item in body:
        item["timestamp"] = when.timestamp()
    result = events_store(service=service, events=body, now=NOW)
    return ErrorGroup.objects.get(pk=result.outcomes[0].group_id)


def test_each_transition_writes_activity_with_actor_and_reason(service, users):
    group = _group(service, "a")
    group_resolve(group=group, by=users["operator"], via="page", reason="fixed in 1.1", now=NOW)
    group_unresolve(group=group, by=users["operator"], via="api", now=NOW)
    group_ignore(group=group, by=users["admin"], via="admin", now=NOW)
    group.refresh_from_db()
    assert group.status == GroupStatus.IGNORED and group.status_changed_at == NOW
    rows = list(group.activity.values_list("kind", "actor__username", "via", "message"))
    assert rows == [
        (ActivityKind.RESOLVED, "operator", "page", "fixed in 1.1"),
        (ActivityKind.UNRESOLVED, "operator", "api", ""),
        (ActivityKind.IGNORED, "admin", "admin", ""),
    ]


def test_it_refuses_transitions_from_the_wrong_state(service, users):
    group = _group(service, "a")
    with pytest.raises(TransitionNotAllowed, match="it is unresolved"):
        group_unresolve(group=group, by=users["operator"], via="page")
    group_resolve(group=group, by=users["operator"], via="page")
    with pytest.raises(TransitionNotAllowed):
        group_resolve(group=group, by=users["operator"], via="page")


def test_merge_moves_events_counts_and_hours_and_later_events_follow(service, users):
    source = _group(service, "a", 3, when=NOW - timedelta(hours=2), user_prefix="s")
    target = _group(service, "b", 2, user_prefix="t")
    merged = group_merge(source=source, target=target, by=users["operator"], via="page", now=NOW)
    assert merged.pk == target.pk
    assert (merged.times_seen, merged.users_affected) == (5, 3)
    assert merged.first_seen == NOW - timedelta(hours=2)
    assert set(ErrorEvent.objects.values_list("group_id", flat=True)) == {target.pk}
    assert sum(ErrorGroupHour.objects.filter(group=target).values_list("count", flat=True)) == 5
    assert not ErrorGroupHour.objects.filter(group=source).exists()
    source.refresh_from_db()
    assert source.merged_into_id == target.pk
    assert target.activity.get().kind == ActivityKind.MERGED
    # A later event with the source's fingerprint lands in the target.
    again = events_store(service=service, events=[event(exception(frames=[frame("shop.views", "a")]))], now=NOW)
    assert again.outcomes[0].group_id == target.pk
    target.refresh_from_db()
    assert target.times_seen == 6
    source.refresh_from_db()
    assert source.times_seen == 3  # untouched since the merge


def test_merge_chains_point_at_the_last_target(service, users):
    a, b, c = _group(service, "a"), _group(service, "b"), _group(service, "c")
    group_merge(source=a, target=b, by=users["operator"], via="page")
    group_merge(source=b, target=c, by=users["operator"], via="page")
    assert ErrorGroup.objects.get(pk=a.pk).merged_into_id == c.pk
    result = events_store(service=service, events=[event(exception(frames=[frame("shop.views", "a")]))], now=NOW)
    assert result.outcomes[0].group_id == c.pk


def test_merge_refusals(service, other_service, users):
    a, b = _group(service, "a"), _group(service, "b")
    foreign = _group(other_service, "a")
    for source, target in ((a, a), (a, foreign)):
        with pytest.raises(TransitionNotAllowed):
            group_merge(source=source, target=target, by=users["operator"], via="page")
    group_merge(source=a, target=b, by=users["operator"], via="page")
    with pytest.raises(TransitionNotAllowed, match="already merged"):
        group_merge(source=b, target=a, by=users["operator"], via="page")
    with pytest.raises(TransitionNotAllowed, match="merged into"):
        group_resolve(group=a, by=users["operator"], via="page")
