"""Editing a silence or maintenance window writes a `suppressed` event only on the alerts whose
hold changed (another source, another end); alerts held as before get none (every edit added a
duplicate to every held alert, even alerts held by another silence)."""

from datetime import timedelta

import pytest

from monitoring.alerting.lifecycle import suppression_sweep
from monitoring.alerting.models import AlertEvent, EventKind, MaintenanceWindow
from monitoring.alerting.silences import silence_create
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory

HOUR = timedelta(hours=1)


def held(alert) -> list[dict]:
    """The `suppressed` events of an alert, oldest first: (silence or window, until)."""
    return list(
        AlertEvent.objects.filter(alert=alert, kind=EventKind.SUPPRESSED)
        .order_by("id")
        .values_list("details", flat=True)
    )


@pytest.fixture
def two_held(clock, make_alert):
    """Two alerts, each held by its own silence."""
    rule = AlertRuleFactory(name="latency")
    pay, cart = make_alert(rule=rule, route="/pay"), make_alert(rule=rule, route="/cart")
    on_pay = silence_create(
        reason="pay deploy", matchers=[{"label": "route", "op": "=", "value": "/pay"}], ends_at=T0 + HOUR
    )
    on_cart = silence_create(
        reason="cart deploy", matchers=[{"label": "route", "op": "=", "value": "/cart"}], ends_at=T0 + 2 * HOUR
    )
    assert len(held(pay)) == 1 and len(held(cart)) == 1
    return pay, cart, on_pay, on_cart


def test_editing_a_silence_adds_no_event_to_alerts_it_does_not_hold(api_client, clock, two_held):
    pay, cart, _, on_cart = two_held
    client = api_client("admin")
    response = client.patch(f"/api/v1/silences/{on_cart.pk}/", {"reason": "cart deploy, take 2"}, format="json")
    assert response.status_code == 200, response.json()
    suppression_sweep()
    assert len(held(pay)) == 1  # was 2: held by the other silence all along
    assert len(held(cart)) == 1  # its own silence, same end: the hold did not change
    pay.refresh_from_db(), cart.refresh_from_db()
    assert (pay.suppressed_until, cart.suppressed_until) == (T0 + HOUR, T0 + 2 * HOUR)


def test_extending_a_silence_adds_one_event_to_the_alerts_it_holds(api_client, clock, two_held):
    pay, cart, _, on_cart = two_held
    ends = (T0 + 3 * HOUR).isoformat()
    assert (
        api_client("admin").patch(f"/api/v1/silences/{on_cart.pk}/", {"ends_at": ends}, format="json").status_code
        == 200
    )
    suppression_sweep()
    suppression_sweep()
    assert len(held(pay)) == 1
    assert [d["until"] for d in held(cart)] == [(T0 + 2 * HOUR).isoformat(), (T0 + 3 * HOUR).isoformat()]


def test_editing_a_maintenance_window_adds_no_event_to_alerts_held_by_a_silence(api_client, clock, two_held, service):
    pay, cart, _, _ = two_held
    window = MaintenanceWindow.objects.create(
        name="db upgrade", service=service, starts_at=T0 + 5 * HOUR, ends_at=T0 + 6 * HOUR
    )
    response = api_client("admin").patch(
        f"/api/v1/maintenance-windows/{window.pk}/", {"reason": "moved"}, format="json"
    )
    assert response.status_code == 200, response.json()
    suppression_sweep()
    assert len(held(pay)) == 1 and len(held(cart)) == 1


def test_a_longer_window_taking_over_the_hold_is_one_event(clock, two_held, service):
    pay, _, _, _ = two_held
    MaintenanceWindow.objects.create(name="db upgrade", service=service, starts_at=T0, ends_at=T0 + 4 * HOUR)
    clock.move_to(T0 + HOUR)  # the silence on /pay ends; the window still holds it
    suppression_sweep()
    suppression_sweep()
    events = held(pay)
    assert len(events) == 2 and "window" in events[-1]
    pay.refresh_from_db()
    assert pay.suppressed_until == T0 + 4 * HOUR


def test_a_shorter_silence_over_a_held_alert_changes_nothing(clock, two_held):
    _, cart, _, _ = two_held
    silence_create(reason="also", matchers=[{"label": "route", "op": "=", "value": "/cart"}], ends_at=T0 + HOUR)
    cart.refresh_from_db()
    assert cart.suppressed_until == T0 + 2 * HOUR  # was cut to the shorter silence's end
    assert len(held(cart)) == 1
