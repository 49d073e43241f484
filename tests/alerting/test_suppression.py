"""Silences and maintenance windows: recorded, not notified; notify once when they end."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerting.escalation import escalation_sweep
from monitoring.alerting.lifecycle import (
    TransitionNotAllowed,
    alert_acknowledge,
    alert_resolve,
    alert_suppress,
    suppression_sweep,
)
from monitoring.alerting.models import Delivery, MaintenanceWindow, Silence
from monitoring.alerting.silences import silence_create, silence_expire, silence_for_alert
from monitoring.alerting.suppression import Hold
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory, EscalationStepFactory

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def loud_rule(db):
    rule = AlertRuleFactory(name="loud")
    rule.channels.set([ChannelFactory(name="pager")])
    return rule


def triggers():
    return Delivery.objects.filter(event="trigger").count()


def test_silence_holds_new_alerts_which_are_still_recorded(clock, make_alert, loud_rule, service, users):
    silence_create(
        reason="deploy", rule=loud_rule, ends_at=T0 + HOUR, author=users["operator"],
        matchers=[{"label": "service", "op": "=", "value": "checkout"}],
    )  # fmt: skip
    alert = make_alert(rule=loud_rule)
    assert triggers() == 0
    alert.refresh_from_db()
    assert alert.status == "firing" and alert.suppressed_until == T0 + HOUR
    assert [e.kind for e in alert.events.all()] == ["triggered", "suppressed"]


def test_silence_that_has_not_started_does_not_apply(clock, make_alert, loud_rule):
    silence_create(reason="later", rule=loud_rule, starts_at=T0 + HOUR, ends_at=T0 + 2 * HOUR)
    make_alert(rule=loud_rule)
    assert triggers() == 1


def test_silence_expires_by_itself_and_a_still_firing_alert_notifies_once(clock, make_alert, loud_rule):
    silence_create(reason="deploy", rule=loud_rule, ends_at=T0 + HOUR)
    alert = make_alert(rule=loud_rule)
    clock.move_to(T0 + 59 * MIN)
    assert suppression_sweep() == 0
    clock.move_to(T0 + HOUR)
    assert suppression_sweep() == 1
    assert triggers() == 1
    clock.move_to(T0 + 2 * HOUR)
    assert suppression_sweep() == 0
    assert triggers() == 1
    alert.refresh_from_db()
    assert alert.suppressed_until is None
    assert alert.events.filter(kind="unsuppressed").count() == 1


def test_acknowledged_alert_is_not_paged_when_the_silence_ends(clock, make_alert, loud_rule, users):
    silence_create(reason="deploy", rule=loud_rule, ends_at=T0 + HOUR)
    alert = make_alert(rule=loud_rule)
    alert_acknowledge(alert=alert, by=users["operator"], via="page")
    clock.move_to(T0 + HOUR)
    suppression_sweep()
    assert triggers() == 0


def test_silencing_from_the_alert_holds_escalation_and_ending_it_early_releases(clock, make_alert, loud_rule, users):
    alert = make_alert(rule=loud_rule)
    assert triggers() == 1
    silence = silence_for_alert(alert=alert, duration=4 * HOUR, author=users["operator"])
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + 4 * HOUR
    assert silence.matchers == [
        {"label": "n", "op": "=", "value": alert.labels["n"]},
        {"label": "service", "op": "=", "value": "checkout"},
    ]
    clock.move_to(T0 + 10 * MIN)
    assert silence_expire(silence=silence, by=None, via="page") is True
    assert suppression_sweep() == 1
    assert triggers() == 2


def test_silence_matching_other_labels_does_not_apply(clock, make_alert, loud_rule):
    silence_create(reason="x", matchers=[{"label": "service", "op": "=", "value": "billing"}], ends_at=T0 + HOUR)
    make_alert(rule=loud_rule)
    assert triggers() == 1


def test_a_silence_must_not_match_everything(db):
    with pytest.raises(ValidationError, match="must not match everything"):
        silence_create(reason="all", ends_at=T0 + HOUR, now=T0)


def test_one_off_maintenance_window_holds_and_notifies_once_at_its_end(clock, make_alert, loud_rule, service):
    MaintenanceWindow.objects.create(name="db upgrade", service=service, starts_at=T0 - MIN, ends_at=T0 + HOUR)
    alert = make_alert(rule=loud_rule)
    assert triggers() == 0
    assert alert.events.latest("id").message == "maintenance window: db upgrade"
    clock.move_to(T0 + HOUR)
    assert suppression_sweep() == 1
    clock.move_to(T0 + HOUR + 5 * MIN)
    assert suppression_sweep() == 0
    assert triggers() == 1


def test_maintenance_of_another_service_does_not_hold(clock, make_alert, loud_rule, other_service):
    MaintenanceWindow.objects.create(name="x", service=other_service, starts_at=T0 - MIN, ends_at=T0 + HOUR)
    make_alert(rule=loud_rule)
    assert triggers() == 1


def test_alert_resolved_during_the_window_never_notifies(clock, make_alert, loud_rule, service):
    MaintenanceWindow.objects.create(name="x", service=service, starts_at=T0 - MIN, ends_at=T0 + HOUR)
    alert = make_alert(rule=loud_rule)
    alert_resolve(alert=alert, by=None, via="evaluator")
    clock.move_to(T0 + 2 * HOUR)
    suppression_sweep()
    assert Delivery.objects.count() == 0


def test_recurring_window_applies_in_each_occurrence_only(clock, service):
    # Every day at 02:00 UTC for 30 minutes.
    window = MaintenanceWindow(
        name="nightly", service=service, starts_at=T0 - 30 * 24 * HOUR, cron="0 2 * * *", duration=30 * MIN
    )
    window.full_clean()
    day = T0.replace(hour=0)
    assert window.active_until(day + 2 * HOUR) == day + 2 * HOUR + 30 * MIN
    assert window.active_until(day + 2 * HOUR + 29 * MIN) == day + 2 * HOUR + 30 * MIN
    assert window.active_until(day + 2 * HOUR + 30 * MIN) is None
    assert window.active_until(day + HOUR) is None


def test_recurring_window_extends_hold_into_next_occurrence(clock, make_alert, loud_rule, service):
    # Occurrences every hour on the hour for 59 minutes: at each end the next one has not begun,
    # except when they overlap; here they don't, so the alert notifies once at 09:59.
    MaintenanceWindow.objects.create(
        name="hourly", service=service, starts_at=T0 - HOUR, cron="0 * * * *", duration=59 * MIN
    )
    alert = make_alert(rule=loud_rule)
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + 59 * MIN
    clock.move_to(T0 + 59 * MIN)
    assert suppression_sweep() == 1
    assert triggers() == 1


def test_window_validation_names_the_field(db):
    with pytest.raises(ValidationError) as error:
        MaintenanceWindow(name="bad", starts_at=T0, cron="not cron", duration=HOUR).full_clean()
    assert "cron" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        MaintenanceWindow(name="bad", starts_at=T0).full_clean()
    assert "ends_at" in error.value.message_dict


def test_resolution_during_maintenance_is_not_notified(clock, make_alert, loud_rule, service):
    alert = make_alert(rule=loud_rule)
    assert triggers() == 1
    MaintenanceWindow.objects.create(name="x", service=service, starts_at=T0, ends_at=T0 + HOUR)
    clock.move_to(T0 + 10 * MIN)
    alert_resolve(alert=alert, by=None, via="evaluator")
    assert not Delivery.objects.filter(event="resolve").exists()
    clock.move_to(T0 + 2 * HOUR)
    alert2 = make_alert(rule=loud_rule)
    alert_resolve(alert=alert2, by=None, via="evaluator")
    assert Delivery.objects.filter(event="resolve").count() == 1


def test_a_silence_starting_later_holds_escalation_once_it_has_begun(clock, make_alert, service, users):
    policy = EscalationPolicyFactory(name="p")
    EscalationStepFactory(policy=policy, order=0, wait_minutes=0, channels=[ChannelFactory(name="first")])
    EscalationStepFactory(policy=policy, order=1, wait_minutes=30, channels=[ChannelFactory(name="second")])
    rule = AlertRuleFactory(escalation_policy=policy)
    alert = make_alert(rule=rule)
    silence_create(reason="night", rule=rule, starts_at=T0 + 20 * MIN, ends_at=T0 + 2 * HOUR)
    alert.refresh_from_db()
    assert alert.suppressed_until is None  # not begun yet
    clock.move_to(T0 + 30 * MIN)
    assert escalation_sweep() == 0  # the step is due but held
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + 2 * HOUR and alert.next_escalation_at is None
    assert not Delivery.objects.filter(step=1).exists()
    clock.move_to(T0 + 2 * HOUR)
    assert suppression_sweep() == 1  # still firing: notify once, escalation starts over
    assert Delivery.objects.filter(step=0).count() == 2


@pytest.mark.parametrize(("state", "allowed"), [("firing", True), ("acknowledged", True), ("resolved", False)])
def test_suppress_transition_from_every_state(make_alert, state, allowed):
    alert = make_alert(status=state)
    hold = Hold(T0 + HOUR, "silenced: x", {})
    if allowed:
        alert_suppress(alert=alert, hold=hold)
        alert.refresh_from_db()
        assert alert.suppressed_until == T0 + HOUR and alert.events.latest("id").kind == "suppressed"
    else:
        with pytest.raises(TransitionNotAllowed):
            alert_suppress(alert=alert, hold=hold)
        alert.refresh_from_db()
        assert alert.suppressed_until is None


def test_shortening_a_silence_in_the_api_releases_its_alerts_at_the_new_end(clock, make_alert, loud_rule, api_client):
    alert = make_alert(rule=loud_rule)
    silence = silence_create(reason="deploy", rule=loud_rule, ends_at=T0 + 4 * HOUR)
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + 4 * HOUR
    clock.move_to(T0 + 10 * MIN)
    response = api_client("admin").patch(
        f"/api/v1/silences/{silence.pk}/", {"ends_at": (T0 + 30 * MIN).isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.suppressed_until == T0 + 30 * MIN  # re-checked: held by the shorter silence only
    clock.move_to(T0 + 31 * MIN)
    assert suppression_sweep() == 1  # still firing: notifies once at the new end, not hours later
    assert triggers() == 2


def test_shortening_a_silence_in_the_admin_releases_its_alerts(
    clock, make_alert, loud_rule, page_client, users, django_capture_on_commit_callbacks
):
    alert = make_alert(rule=loud_rule)
    silence = silence_create(reason="deploy", rule=loud_rule, ends_at=T0 + 4 * HOUR, author=users["admin"])
    clock.move_to(T0 + 10 * MIN)
    with django_capture_on_commit_callbacks(execute=True):  # the admin re-checks after its commit
        response = page_client("admin").post(
            f"/admin/alerting/silence/{silence.pk}/change/",
            {
                "matchers": "[]",
                "rule": loud_rule.pk,
                "starts_at_0": "2026-03-02",
                "starts_at_1": "09:00:00",
                "ends_at_0": "2026-03-02",
                "ends_at_1": "09:20:00",
                "author": users["admin"].pk,
                "reason": "deploy",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    clock.move_to(T0 + 21 * MIN)
    assert suppression_sweep() == 1
    alert.refresh_from_db()
    assert alert.suppressed_until is None


@pytest.mark.parametrize("where", ["api", "admin"])
def test_deleting_a_silence_releases_its_alerts(clock, make_alert, loud_rule, api_client, page_client, where):
    alert = make_alert(rule=loud_rule)
    silence = silence_create(reason="deploy", rule=loud_rule, ends_at=T0 + 4 * HOUR)
    clock.move_to(T0 + 10 * MIN)
    if where == "api":
        assert api_client("admin").delete(f"/api/v1/silences/{silence.pk}/").status_code == 204
    else:
        page_client("admin").post(f"/admin/alerting/silence/{silence.pk}/delete/", {"post": "yes"})
    assert not Silence.objects.filter(pk=silence.pk).exists()
    assert suppression_sweep() == 1
    assert triggers() == 2
    alert.refresh_from_db()
    assert alert.suppressed_until is None


@pytest.mark.parametrize("change", ["shorten", "delete"])
def test_a_shortened_or_deleted_maintenance_window_releases_its_alerts(
    clock, make_alert, loud_rule, service, api_client, change
):
    window = MaintenanceWindow.objects.create(name="upgrade", service=service, starts_at=T0 - MIN, ends_at=T0 + HOUR)
    alert = make_alert(rule=loud_rule)
    assert triggers() == 0
    clock.move_to(T0 + 10 * MIN)
    client = api_client("admin")
    if change == "shorten":
        body = {"ends_at": (T0 + 15 * MIN).isoformat()}
        assert client.patch(f"/api/v1/maintenance-windows/{window.pk}/", body, format="json").status_code == 200
        assert suppression_sweep() == 0  # still inside the shortened window: held until its new end
        alert.refresh_from_db()
        assert alert.suppressed_until == T0 + 15 * MIN
        clock.move_to(T0 + 15 * MIN)
    else:
        assert client.delete(f"/api/v1/maintenance-windows/{window.pk}/").status_code == 204
    assert suppression_sweep() == 1
    assert triggers() == 1


def test_deleting_a_maintenance_window_in_the_admin_releases_its_alerts(
    clock, make_alert, loud_rule, service, page_client
):
    window = MaintenanceWindow.objects.create(name="upgrade", service=service, starts_at=T0 - MIN, ends_at=T0 + HOUR)
    make_alert(rule=loud_rule)
    clock.move_to(T0 + 10 * MIN)
    page_client("admin").post(f"/admin/alerting/maintenancewindow/{window.pk}/delete/", {"post": "yes"})
    assert not MaintenanceWindow.objects.exists()
    assert suppression_sweep() == 1 and triggers() == 1


def test_a_cron_that_never_matches_is_refused_and_a_stored_one_does_not_break_alerting(
    clock, make_alert, loud_rule, service
):
    window = MaintenanceWindow(name="30 Feb", starts_at=T0, cron="0 0 30 2 *", duration=HOUR)
    with pytest.raises(ValidationError) as error:
        window.full_clean()
    assert "never matches" in str(error.value.message_dict["cron"])
    window.save()  # stored anyway (an older row, a shell): it holds nothing and breaks nothing
    make_alert(rule=loud_rule)
    assert triggers() == 1
