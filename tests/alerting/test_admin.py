"""Admin: actions go through the transition functions; secrets are write-only; role matrix."""

import pytest
from django.test import Client

from monitoring.alerting.models import Alert, Channel, Delivery
from monitoring.alerting.notify import channel_test, delivery_send
from tests.alerting.factories import AlertRuleFactory, ChannelFactory

ADMIN_PAGES = ["alert", "alertrule", "channel", "escalationpolicy", "silence", "maintenancewindow", "delivery",
               "alertevent"]  # fmt: skip


@pytest.mark.parametrize("actor", ["anonymous", "viewer", "operator", "admin"])
def test_admin_is_for_admins(page_client, actor):
    response = page_client(actor).get("/admin/alerting/alert/")
    assert response.status_code == (200 if actor == "admin" else 302)


@pytest.mark.parametrize("model", ADMIN_PAGES)
def test_admin_pages_render(page_client, make_alert, webhook_channel, model):
    make_alert()
    assert page_client("admin").get(f"/admin/alerting/{model}/").status_code == 200
    assert page_client("admin").get(f"/admin/alerting/{model}/add/").status_code in (200, 403)


def test_admin_acknowledge_action_uses_the_transition(page_client, make_alert, users):
    firing, resolved = make_alert(), make_alert(status="resolved")
    response = page_client("admin").post(
        "/admin/alerting/alert/",
        {"action": "alert_acknowledge", "_selected_action": [firing.pk, resolved.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Acknowledged 1 alert(s)" in html and "Cannot acknowledge alert" in html
    firing.refresh_from_db()
    assert firing.status == "acknowledged" and firing.acknowledged_by == users["admin"]
    assert firing.events.latest("id").details == {"via": "admin"}
    assert Alert.objects.get(pk=resolved.pk).status == "resolved"


def test_admin_resolve_and_reopen_actions(page_client, make_alert):
    alert = make_alert()
    client = page_client("admin")
    client.post("/admin/alerting/alert/", {"action": "alert_resolve", "_selected_action": [alert.pk]})
    assert Alert.objects.get(pk=alert.pk).status == "resolved"
    client.post("/admin/alerting/alert/", {"action": "alert_reopen", "_selected_action": [alert.pk]})
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_alert_status_is_not_editable_in_the_admin(page_client, make_alert):
    alert = make_alert()
    client = page_client("admin")
    client.post(f"/admin/alerting/alert/{alert.pk}/change/", {"status": "resolved"})
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_channel_secret_is_never_rendered_and_blank_keeps_it(page_client, webhook_channel):
    client = page_client("admin")
    html = client.get(f"/admin/alerting/channel/{webhook_channel.pk}/change/").content.decode()
    assert webhook_channel.secret not in html
    response = client.post(
        f"/admin/alerting/channel/{webhook_channel.pk}/change/",
        {
            "name": "renamed",
            "kind": "webhook",
            "enabled": "on",
            "addresses": "[]",
            "url": webhook_channel.url,
            "secret": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    channel = Channel.objects.get(pk=webhook_channel.pk)
    assert channel.name == "renamed" and channel.secret == "s3cret"


def test_channel_url_is_not_rendered_in_the_admin_and_blank_keeps_it(page_client, db):
    channel = ChannelFactory(url="https://hooks.example.com/services/T0K3N")
    client = page_client("admin")
    html = client.get(f"/admin/alerting/channel/{channel.pk}/change/").content.decode()
    assert "T0K3N" not in html and "hooks.example.com" in html
    data = {"name": channel.name, "kind": "webhook", "enabled": "on", "addresses": "[]", "url": "", "secret": ""}
    response = client.post(f"/admin/alerting/channel/{channel.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Channel.objects.get(pk=channel.pk).url == "https://hooks.example.com/services/T0K3N"


def test_admin_send_test_notification_action(page_client, webhook_channel):
    page_client("admin").post(
        "/admin/alerting/channel/", {"action": "send_test", "_selected_action": [webhook_channel.pk]}
    )
    delivery = Delivery.objects.get()
    assert (delivery.event, delivery.channel, delivery.alert) == ("test", webhook_channel, None)


def test_test_notification_reaches_a_real_server(httpserver, db):
    httpserver.expect_request("/test-hook").respond_with_data("ok")
    channel = ChannelFactory(url=httpserver.url_for("/test-hook"), enabled=False)  # works before enabling
    assert delivery_send(delivery_id=channel_test(channel=channel).pk) == "sent"
    request = next(r for r, _ in httpserver.log if r.path == "/test-hook")
    assert request.get_json()["event"] == "test"


def test_csrf_is_enforced_in_the_admin(users, make_alert):
    alert = make_alert()
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    response = client.post("/admin/alerting/alert/", {"action": "alert_resolve", "_selected_action": [alert.pk]})
    assert response.status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_admin_event_history_filters_by_rule_and_service(page_client, make_alert, other_service):
    mine = make_alert(rule=AlertRuleFactory(name="mine"))
    theirs = make_alert(rule=AlertRuleFactory(name="theirs"), on=other_service, service="billing", n="1")
    client = page_client("admin")

    def shown(query):
        html = client.get(f"/admin/alerting/alertevent/?{query}").content.decode()
        return {a.pk for a in (mine, theirs) if f"#{a.pk} " in html}

    assert shown("") == {mine.pk, theirs.pk}
    assert shown(f"alert__rule__id__exact={mine.rule_id}") == {mine.pk}
    assert shown(f"alert__service__id__exact={other_service.pk}") == {theirs.pk}
