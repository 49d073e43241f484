"""Two workers sweeping at once never send one report twice (PostgreSQL: real concurrent
transactions; SQLite serialises writers, so the race is only meaningful there)."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection

from reporting.digest import reports_send_due, subscription_claim, subscription_reschedule
from reporting.models import Report, ReportSubscription
from tests.factories import UserFactory
from tests.support import on_postgres

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SUBSCRIPTIONS = 12


def _in_threads(n, work):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work()
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


@pytest.fixture
def due_subscriptions(transactional_db):
    if not on_postgres():
        # Not require(): CI runs the whole suite on SQLite too, and this race needs PostgreSQL's
        # concurrent transactions; the PostgreSQL pass of CI runs it (and fails if it cannot).
        pytest.skip("concurrent sweeps need PostgreSQL (set DATABASE_URL); SQLite serialises writers")
    subs = []
    for n in range(SUBSCRIPTIONS):
        user = UserFactory(username=f"race{n}", role="viewer")
        sub = ReportSubscription.objects.create(
            user=user, name=f"r{n}", frequency="daily", sections=["alerts"], send_time=time(8, 0), time_zone="UTC"
        )
        subscription_reschedule(sub=sub, now=NOW - timedelta(minutes=1))
        subs.append(sub)
    return subs


def test_two_workers_claiming_one_due_time_one_wins(due_subscriptions):
    sub = due_subscriptions[0]
    won = _in_threads(4, lambda: subscription_claim(sub_id=sub.pk, due_at=NOW, now=NOW))
    assert sorted(won, key=str).count(None) == 3 and NOW in won


def test_two_sweeps_at_once_send_every_report_exactly_once(due_subscriptions):
    sent = _in_threads(2, lambda: reports_send_due(now=NOW + timedelta(seconds=5)))
    assert sum(sent) == SUBSCRIPTIONS
    assert Report.objects.count() == SUBSCRIPTIONS
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.user.email for s in due_subscriptions)
    assert set(ReportSubscription.objects.values_list("next_send_at", flat=True)) == {NOW + timedelta(days=1)}
