"""Behaviour analysis over the database: streams in index order, stored and on-demand answers, the
daily job."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.behaviour import compute
from analytics.behaviour.tasks import behaviour_daily
from analytics.models import UsageEvent
from analytics.models_behaviour import BehaviourResult
from portal.schedules import declared_schedules
from tests.analytics.test_behaviour_core import FUNNEL_EVENTS, PATH_EVENTS

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
DAY_START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # inside yesterday: the 1-day window holds it
PATHS, FUNNEL, RETENTION = BehaviourResult.Kind.PATHS, BehaviourResult.Kind.FUNNEL, BehaviourResult.Kind.RETENTION


def store_events(service, rows, *, kind="feature"):
    """rows: (session, user, seconds after DAY_START, name); stored in reverse so the order on disk
    is not the order the analysis needs."""
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                service=service, session_id=s, user_id=u, time=DAY_START + timedelta(seconds=t), name=n, kind=kind
            )
            for s, u, t, n in reversed(rows)
        ]
    )


@pytest.fixture
def path_events(service):
    store_events(service, PATH_EVENTS)
    store_events(service, [("s9", "u9", 0, "A"), ("s9", "u9", 1, "B")], kind="error")  # not a feature


def yesterday():
    return compute.day_window(1, now=NOW)


def test_paths_from_the_database_match_the_hand_computed_figures(path_events, service):
    since, until = yesterday()
    data, events = compute.paths_compute(
        service=service, since=since, until=until, params=compute.default_params(PATHS)
    )
    assert events == 10  # the error events are another kind
    pairs = {tuple(p["steps"]): p for p in data["paths"] if p["length"] == 2}
    assert pairs[("A", "B")]["support"] == 0.5 and pairs[("A", "B")]["confidence"] == 0.666667
    assert data["next_steps"]["A"]["outcomes"][0] == {"step": "B", "count": 2, "probability": 0.666667, "within": 2}
    assert data["summary"]["sessions"] == 4


def test_the_funnel_reads_users_and_sessions_without_a_user(service):
    store_events(service, [(f"s-{u}", u, t, n) for u, t, n in FUNNEL_EVENTS])
    # Two anonymous sessions: one does A then B, one only A.
    store_events(service, [("anon1", "", 0, "A"), ("anon1", "", 30, "B"), ("anon2", "", 0, "A")])
    since, until = yesterday()
    params = compute.default_params(FUNNEL, steps=["A", "B", "C"], window=100)
    data, events = compute.funnel_compute(service=service, since=since, until=until, params=params)
    assert [s["actors"] for s in data["steps"]] == [6, 4, 1]
    assert [s["median_seconds"] for s in data["steps"]] == [None, 20, 40]  # 50, 10, 10, 30
    assert events == len(FUNNEL_EVENTS) + 3


def test_retention_cohorts_from_the_database(service):
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [("u1", 1, "A"), ("u1", 8, "A"), ("u2", 6, "A"), ("u2", 15, "B"), ("u0", -3, "A"), ("u0", 9, "A")]
    UsageEvent.objects.bulk_create(
        [UsageEvent(service=service, user_id=u, time=monday + timedelta(days=d), name=n) for u, d, n in rows]
    )
    params = compute.default_params(RETENTION)
    data, events = compute.retention_compute(
        service=service, since=monday, until=monday + timedelta(weeks=3), params=params
    )
    assert [c["retained"] for c in data["cohorts"]] == [[2, 1, 1], [0, 0], [0]]
    assert data["outside"] == 1  # u0 was there the week before
    assert events == 6  # all read (a stream), though u0's later ones change nothing


def test_a_closed_period_is_computed_once_then_read_from_the_stored_result(path_events, service):
    since, until = yesterday()
    params = compute.default_params(PATHS)
    first = compute.behaviour_answer(kind=PATHS, service=service, since=since, until=until, params=params, now=NOW)
    assert first.source == "live" and first.events == 10
    assert BehaviourResult.objects.count() == 1
    again = compute.behaviour_answer(kind=PATHS, service=service, since=since, until=until, params=params, now=NOW)
    assert again.source == "stored" and again.data == first.data
    other = compute.default_params(PATHS, within=5)  # another question: not the stored one
    assert compute.params_hash(PATHS, other) != compute.params_hash(PATHS, params)


def test_an_open_period_is_answered_but_not_stored(path_events, service):
    since, until = DAY_START - timedelta(hours=1), NOW + timedelta(hours=1)
    found = compute.behaviour_answer(
        kind=PATHS, service=service, since=since, until=until, params=compute.default_params(PATHS), now=NOW
    )
    assert found.source == "live" and found.data["summary"]["sessions"] == 4
    assert not BehaviourResult.objects.exists()


def test_a_large_question_without_a_stored_result_is_refused(path_events, service):
    since, until = yesterday()
    params = compute.default_params(PATHS)
    with pytest.raises(compute.TooManyEvents):
        compute.behaviour_answer(kind=PATHS, service=service, since=since, until=until, params=params, limit=9)
    compute.behaviour_answer(kind=PATHS, service=service, since=since, until=until, params=params, limit=10, now=NOW)
    stored = compute.behaviour_answer(kind=PATHS, service=service, since=since, until=until, params=params, limit=1)
    assert stored.source == "stored"


def test_the_daily_job_stores_the_standard_windows_once(path_events, service, other_service):
    first = behaviour_daily(now=NOW)
    assert first == {"stored": 3, "failed": [], "pruned": 0}  # the other service has no events
    rows = BehaviourResult.objects.filter(service=service)
    assert sorted((r.kind, (r.period_end - r.period_start).days) for r in rows) == [
        ("paths", 7), ("paths", 30), ("retention", 7 * 7 + 2)  # 7 whole weeks and Monday, Tuesday so far
    ]  # fmt: skip
    seven = rows.get(kind=PATHS, period_start=NOW.replace(hour=0) - timedelta(days=7))
    assert seven.data["summary"]["sessions"] == 4 and seven.events == 10
    behaviour_daily(now=NOW)
    assert BehaviourResult.objects.count() == 3
    # What the API asks by default is what the job stored.
    since, until = compute.day_window(7, now=NOW)
    answer = compute.behaviour_answer(
        kind=PATHS, service=service, since=since, until=until, params=compute.default_params(PATHS), limit=1
    )
    assert answer.source == "stored"
    assert any(s.name == "analytics.behaviour_daily" for s in declared_schedules())


def test_the_job_queries_do_not_grow_with_events_or_sessions(path_events, service):
    behaviour_daily(now=NOW)  # creates the rows; the runs measured below update them
    with CaptureQueriesContext(connection) as small:
        behaviour_daily(now=NOW)
    rows = [(f"x{i}", f"v{i}", i, "A") for i in range(300)] + [(f"x{i}", "", i + 1, "B") for i in range(300)]
    store_events(service, rows)
    with CaptureQueriesContext(connection) as large:
        behaviour_daily(now=NOW)
    assert len(large) == len(small) < 40


def test_the_admin_lists_stored_results_read_only(path_events, service, page_client):
    behaviour_daily(now=NOW)
    admin = page_client("admin")
    page = admin.get("/admin/analytics/behaviourresult/")
    assert page.status_code == 200 and page.content.decode().count("paths") >= 2
    assert admin.get("/admin/analytics/behaviourresult/add/").status_code == 403
    assert page_client("viewer").get("/admin/analytics/behaviourresult/").status_code == 302


def test_one_failing_service_does_not_cost_the_others_their_results(path_events, service, other_service, monkeypatch):
    store_events(other_service, PATH_EVENTS)
    real = compute.COMPUTE[PATHS]

    def broken_for_checkout(*, service, **kwargs):
        if service.slug == "checkout":
            raise RuntimeError("boom")
        return real(service=service, **kwargs)

    monkeypatch.setitem(compute.COMPUTE, PATHS, broken_for_checkout)
    outcome = behaviour_daily(now=NOW)
    assert outcome["failed"] == ["checkout"] and outcome["stored"] == 3
    assert set(BehaviourResult.objects.values_list("service__slug", flat=True)) == {"billing"}
