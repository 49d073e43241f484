"""Pages: role matrix for every page and action, CSRF, filters, no N+1."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitoring.alerting.lifecycle import alert_acknowledge, alert_resolve
from monitoring.alerting.models import Alert, AlertEvent, RuleState, Silence
from monitoring.alerting.silences import silence_create
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory

PAGE_ACTORS = ("anonymous", "norole", "viewer", "operator", "admin")
# actor -> expected status for reading pages
READ = {"anonymous": 302, "norole": 403, "viewer": 200, "operator": 200, "admin": 200}
# actor -> expected status for actions (302 back to the alert when allowed)
ACT = {"anonymous": 302, "norole": 403, "viewer": 403, "operator": 302, "admin": 302}


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_alert_list_role_matrix(page_client, make_alert, actor):
    alert = make_alert()
    response = page_client(actor).get("/alerts/")
    assert response.status_code == READ[actor]
    if actor == "anonymous":
        assert response.url.startswith("/login/")
    if READ[actor] == 200:
        assert alert.summary in response.content.decode()


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_alert_detail_role_matrix_and_buttons(page_client, make_alert, actor):
    alert = make_alert()
    response = page_client(actor).get(f"/alerts/{alert.pk}/")
    assert response.status_code == READ[actor]
    if READ[actor] == 200:
        html = response.content.decode()
        assert "Timeline" in html and "triggered" in html.lower()
        can_act = actor in ("operator", "admin")
        assert ('id="acknowledge"' in html) is can_act
        assert ("Add a comment" in html) is can_act
        assert ("silence for 1h" in html) is can_act


ACTIONS = {
    "acknowledge": ("firing", {}, "acknowledged"),
    "unacknowledge": ("acknowledged", {}, "firing"),
    "resolve": ("firing", {}, "resolved"),
    "reopen": ("resolved", {}, "firing"),
}


@pytest.mark.parametrize("actor", PAGE_ACTORS)
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_actions_role_matrix(page_client, make_alert, actor, action):
    start, data, result = ACTIONS[action]
    alert = make_alert(status=start)
    response = page_client(actor).post(f"/alerts/{alert.pk}/{action}/", data)
    assert response.status_code == ACT[actor]
    alert.refresh_from_db()
    if actor in ("operator", "admin"):
        assert response.url == f"/alerts/{alert.pk}/"
        assert alert.status == result
    else:
        assert alert.status == start


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_comment_role_matrix(page_client, make_alert, actor):
    alert = make_alert()
    response = page_client(actor).post(f"/alerts/{alert.pk}/comment/", {"text": "on it"})
    assert response.status_code == ACT[actor]
    assert AlertEvent.objects.filter(alert=alert, kind="commented").exists() is (actor in ("operator", "admin"))


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_silence_from_alert_page_role_matrix(page_client, make_alert, actor):
    alert = make_alert()
    response = page_client(actor).post(f"/alerts/{alert.pk}/silence/", {"duration": "4h", "reason": "noisy"})
    assert response.status_code == ACT[actor]
    assert Silence.objects.exists() is (actor in ("operator", "admin"))


def test_silence_with_a_bad_duration_names_the_field(page_client, make_alert):
    alert = make_alert()
    response = page_client("operator").post(f"/alerts/{alert.pk}/silence/", {"duration": "5y"}, follow=True)
    assert "duration: choose one of" in response.content.decode()
    assert not Silence.objects.exists()


def test_actions_are_post_only(page_client, make_alert):
    alert = make_alert()
    assert page_client("operator").get(f"/alerts/{alert.pk}/acknowledge/").status_code == 405
    assert Alert.objects.get(pk=alert.pk).status == "firing"


def test_refused_transition_is_explained_not_crashing(page_client, make_alert):
    alert = make_alert(status="resolved")
    response = page_client("operator").post(f"/alerts/{alert.pk}/acknowledge/", follow=True)
    assert response.status_code == 200
    assert "Cannot acknowledge alert" in response.content.decode()


@pytest.mark.parametrize("path", ["acknowledge/", "resolve/", "comment/", "silence/"])
def test_csrf_is_enforced_on_actions(users, make_alert, path):
    alert = make_alert()
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    response = client.post(f"/alerts/{alert.pk}/{path}", {"text": "x", "duration": "1h"})
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == "firing" and not alert.events.filter(kind="commented").exists()
    page = client.get(f"/alerts/{alert.pk}/")
    token = page.cookies["csrftoken"].value
    response = client.post(f"/alerts/{alert.pk}/{path}", {"text": "x", "duration": "1h", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_list_filters_by_status_severity_and_service(page_client, make_alert, service, other_service):
    firing = make_alert()
    resolved = make_alert()
    alert_resolve(alert=resolved, by=None, via="evaluator")
    warning = make_alert(rule=AlertRuleFactory(severity="warning"))
    billing = make_alert(on=other_service, service="billing", n="x")
    client = page_client("viewer")

    def shown(query):
        html = client.get(f"/alerts/?{query}").content.decode()
        return {a.pk for a in (firing, resolved, warning, billing) if f'href="/alerts/{a.pk}/"' in html}

    assert shown("") == {firing.pk, warning.pk, billing.pk}  # open by default
    assert shown("status=resolved") == {resolved.pk}
    assert shown("status=all") == {firing.pk, resolved.pk, warning.pk, billing.pk}
    assert shown("severity=warning") == {warning.pk}
    assert shown("service=checkout&status=all") == {firing.pk, resolved.pk, warning.pk}


def test_list_shows_newest_first(page_client, make_alert, clock):
    old = make_alert()
    clock.move_to(T0 + timedelta(hours=1))
    new = make_alert()
    html = page_client("viewer").get("/alerts/").content.decode()
    assert html.index(f'href="/alerts/{new.pk}/"') < html.index(f'href="/alerts/{old.pk}/"')


def test_list_and_detail_do_not_query_per_alert(page_client, make_alert, django_assert_max_num_queries, users):
    for _ in range(30):
        alert_acknowledge(alert=make_alert(), by=users["operator"], via="page")
    client = page_client("viewer")
    with django_assert_max_num_queries(12):
        assert client.get("/alerts/?status=all").status_code == 200
    alert = Alert.objects.first()
    for i in range(20):
        AlertEvent.objects.create(alert=alert, kind="commented", actor=users["operator"], message=str(i))
    with django_assert_max_num_queries(14):
        assert client.get(f"/alerts/{alert.pk}/").status_code == 200


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_silences_page_and_expire_role_matrix(page_client, rule, actor, users):
    far = timezone.now() + timedelta(days=300)
    silence = silence_create(reason="deploy window", rule=rule, ends_at=far, author=users["admin"])
    response = page_client(actor).get("/alerts/silences/")
    assert response.status_code == READ[actor]
    if READ[actor] == 200:
        html = response.content.decode()
        assert "deploy window" in html
        assert ("End now" in html) is (actor in ("operator", "admin"))
    response = page_client(actor).post(f"/alerts/silences/{silence.pk}/expire/")
    assert response.status_code == ACT[actor]
    silence.refresh_from_db()
    assert (silence.ends_at < far) is (actor in ("operator", "admin"))


def test_nav_has_an_alerts_link(page_client):
    assert 'href="/alerts/"' in page_client("viewer").get("/").content.decode()


def test_list_warns_about_a_failing_channel(page_client, db):
    ChannelFactory(name="pager hook", last_error="HTTP 404: gone", last_error_at=T0)
    ChannelFactory(name="fine hook")
    html = page_client("viewer").get("/alerts/").content.decode()
    assert "channel failing" in html and "pager hook" in html and "HTTP 404: gone" in html
    assert "fine hook" not in html and "fix it" not in html
    assert "fix it" in page_client("admin").get("/alerts/").content.decode()


def test_list_shows_pending_label_sets(page_client, clock, rule, settings):
    settings.TIME_ZONE = "UTC"  # "09:05 UTC" as shown; CI also runs this file in Asia/Kolkata
    rule.for_duration = timedelta(minutes=5)
    rule.save()
    RuleState.objects.create(rule=rule, fingerprint="a", labels={"route": "/pay"}, active_since=T0, value=250)
    RuleState.objects.create(rule=rule, fingerprint="b", labels={"route": "/old"}, active_since=T0 - timedelta(hours=1))
    RuleState.objects.create(rule=rule, fingerprint="c", labels={"route": "/ok"}, active_since=None)
    clock.move_to(T0 + timedelta(minutes=2))
    html = page_client("viewer").get("/alerts/").content.decode()
    assert 'id="pending"' in html
    assert "route=/pay" in html and "09:05 UTC" in html
    assert "route=/old" not in html and "route=/ok" not in html  # fired long ago / not true


@pytest.mark.parametrize(("path", "start"), [("unacknowledge/", "acknowledged"), ("reopen/", "resolved")])
def test_csrf_is_enforced_on_the_other_transitions(users, make_alert, path, start):
    alert = make_alert(status=start)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    assert client.post(f"/alerts/{alert.pk}/{path}").status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == start
    token = client.get(f"/alerts/{alert.pk}/").cookies["csrftoken"].value
    assert client.post(f"/alerts/{alert.pk}/{path}", {"csrfmiddlewaretoken": token}).status_code == 302
    assert Alert.objects.get(pk=alert.pk).status != start


def test_csrf_is_enforced_on_ending_a_silence(users, rule):
    far = timezone.now() + timedelta(days=300)
    silence = silence_create(reason="deploy", rule=rule, ends_at=far, author=users["admin"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    assert client.post(f"/alerts/silences/{silence.pk}/expire/").status_code == 403
    silence.refresh_from_db()
    assert silence.ends_at == far
    token = client.get("/alerts/silences/").cookies["csrftoken"].value
    assert client.post(f"/alerts/silences/{silence.pk}/expire/", {"csrfmiddlewaretoken": token}).status_code == 302
    silence.refresh_from_db()
    assert silence.ends_at < far


def test_api_actions_with_a_session_need_the_csrf_token(users, make_alert):
    """The browser's session works on the API too, so the API must not be a CSRF side door."""
    alert = make_alert()
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    url = f"/api/v1/alerts/{alert.pk}/acknowledge/"
    assert client.post(url, {}, content_type="application/json").status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == "firing"
    token = client.get(f"/alerts/{alert.pk}/").cookies["csrftoken"].value
    response = client.post(url, {}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("get", "{pk}/"), ("get", "silences/"), ("post", "{pk}/acknowledge/"), ("post", "{pk}/comment/")],
)
def test_a_service_key_opens_no_page(make_alert, other_key, method, path):
    """Pages are for people: a service's API key counts as anonymous there."""
    alert = make_alert()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    response = getattr(client, method)(f"/alerts/{path.format(pk=alert.pk)}", {"text": "x"})
    assert response.status_code == 302 and response.url.startswith("/login/")
    alert.refresh_from_db()
    assert alert.status == "firing" and not alert.events.filter(kind="commented").exists()


def test_pending_label_sets_are_listed_soonest_first(page_client, clock, rule):
    rule.for_duration = timedelta(minutes=5)
    rule.save()
    RuleState.objects.create(
        rule=rule, fingerprint="late", labels={"route": "/late"}, active_since=T0 + timedelta(minutes=1)
    )
    RuleState.objects.create(rule=rule, fingerprint="soon", labels={"route": "/soon"}, active_since=T0)
    RuleState.objects.create(
        rule=rule, fingerprint="due", labels={"route": "/due"}, active_since=T0 - timedelta(minutes=3)
    )
    clock.move_to(T0 + timedelta(minutes=2))  # /due fires exactly now: no longer pending
    html = page_client("viewer").get("/alerts/").content.decode()
    assert html.index("route=/soon") < html.index("route=/late")
    assert "route=/due" not in html
