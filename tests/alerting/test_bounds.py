"""Every duration and count people configure has a bound (issue #9), refused with 400 naming the field.

An escalation wait of 2**40 minutes stopped the escalation sweep (and the suppression sweep
behind it) for everyone; the sweep tests live in test_sweep_isolation.py.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.alerting.models import EscalationPolicy, MaintenanceWindow, Silence

pytestmark = pytest.mark.django_db

HUGE = 2**40


def post(api_client, prefix, body, actor="admin"):
    return api_client(actor).post(f"/api/v1/{prefix}/", body, format="json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [{"wait_minutes": HUGE}]}, "steps"),
        ({"steps": [{"wait_minutes": 7 * 24 * 60 + 1}]}, "steps"),
        ({"steps": [{"order": 10**6}]}, "steps"),
        ({"repeat": HUGE}, "repeat"),
        ({"repeat": 101}, "repeat"),
        ({"repeat_after_minutes": HUGE}, "repeat_after_minutes"),
        ({"repeat_after_minutes": 0}, "repeat_after_minutes"),
        ({"steps": [{"wait_minutes": 1}] * 21}, "steps"),
    ],
)
def test_escalation_policy_numbers_are_bounded(api_client, body, field):
    response = post(api_client, "escalation-policies", {"name": "p", **body})
    assert response.status_code == 400, response.content
    assert field in response.json()
    if field == "steps" and len(body["steps"]) == 1:
        assert list(response.json()["steps"]["0"]) == list(body["steps"][0])  # names wait_minutes / order
    assert not EscalationPolicy.objects.exists()


def test_escalation_policy_at_the_bounds_is_accepted(api_client):
    body = {"name": "p", "repeat": 100, "repeat_after_minutes": 10_080, "steps": [{"wait_minutes": 10_080}] * 20}
    assert post(api_client, "escalation-policies", body).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window": "1000000 00:00:00"}, "window"),
        ({"window": "25:00:00"}, "window"),
        ({"window": "00:00:30"}, "window"),
        ({"for_duration": f"{HUGE} 00:00:00"}, "for_duration"),
        ({"for_duration": "8 00:00:00"}, "for_duration"),
        ({"for_duration": "-1 00:00:00"}, "for_duration"),
    ],
)
def test_rule_durations_are_bounded(api_client, changes, field):
    body = {"name": "r", "metric": "cpu", "threshold": 1, **changes}
    response = post(api_client, "alert-rules", body)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_silence_ends_at_most_a_year_after_it_starts(api_client, rule):
    start = timezone.now()
    body = {"rule": rule.pk, "reason": "x", "starts_at": start.isoformat()}
    too_long = post(api_client, "silences", {**body, "ends_at": (start + timedelta(days=366)).isoformat()}, "operator")
    assert too_long.status_code == 400
    assert too_long.json() == {"ends_at": ["Must be at most 365 days after the start."]}
    far = post(api_client, "silences", {**body, "ends_at": "9999-12-31T23:59:59Z"}, "operator")
    assert far.status_code == 400 and "ends_at" in far.json()
    ok = post(api_client, "silences", {**body, "ends_at": (start + timedelta(days=365)).isoformat()}, "operator")
    assert ok.status_code == 201
    assert Silence.objects.count() == 1


def test_maintenance_windows_are_bounded(api_client):
    one_off = {"name": "w", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2028-01-01T00:00:00Z"}
    response = post(api_client, "maintenance-windows", one_off)
    assert response.status_code == 400
    assert response.json() == {"ends_at": ["Must be at most 365 days after the start."]}
    recurring = {"name": "w", "starts_at": "2026-01-01T00:00:00Z", "cron": "0 2 * * *"}
    for duration in ("32 00:00:00", "00:00:30", f"{HUGE} 00:00:00"):
        response = post(api_client, "maintenance-windows", {**recurring, "duration": duration})
        assert response.status_code == 400 and "duration" in response.json(), duration
    # A recurring window may recur for years: only each occurrence is bounded.
    forever = {**recurring, "duration": "04:00:00", "ends_at": "2036-01-01T00:00:00Z"}
    assert post(api_client, "maintenance-windows", forever).status_code == 201
    assert MaintenanceWindow.objects.count() == 1


def test_admin_refuses_a_huge_escalation_wait(page_client):
    form = {
        "name": "p",
        "repeat": 0,
        "repeat_after_minutes": 30,
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 20,
        "steps-0-order": 0,
        "steps-0-wait_minutes": HUGE,
    }
    response = page_client("admin").post(reverse("admin:alerting_escalationpolicy_add"), form)
    assert response.status_code == 200
    assert b"Must be at most 10,080 minutes (7 days)." in response.content
    assert not EscalationPolicy.objects.exists()


def test_admin_refuses_a_silence_longer_than_a_year(page_client, rule):
    now = timezone.now()
    form = {
        "matchers": "[]",
        "rule": rule.pk,
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": "9999-12-31",
        "ends_at_1": "00:00:00",
        "reason": "forever",
    }
    response = page_client("admin").post(reverse("admin:alerting_silence_add"), form)
    assert response.status_code == 200
    assert b"Must be at most 365 days after the start." in response.content
    assert not Silence.objects.exists()
