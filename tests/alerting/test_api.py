"""API: role matrix for every endpoint and action, validation, write-only secrets, history
filters and cursor pagination."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.alerting.lifecycle import alert_comment, alert_resolve
from monitoring.alerting.models import AlertRule, Channel, EscalationPolicy, MaintenanceWindow, RuleState, Silence
from tests.alerting.conftest import T0
from tests.alerting.factories import AlertRuleFactory, ChannelFactory, EscalationPolicyFactory

ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")
READABLE = ["alert-rules", "alert-channels", "escalation-policies", "silences", "maintenance-windows", "alerts",
            "alert-events", "alert-deliveries", "alert-rule-states"]  # fmt: skip


def refused(actor):
    """No credentials: 401 (the API asks for them); a person or key without the role: 403."""
    return 401 if actor == "anonymous" else 403


@pytest.fixture
def world(make_alert, rule, webhook_channel, users):
    alert = make_alert(rule=rule)
    policy = EscalationPolicyFactory()
    silence = Silence.objects.create(rule=rule, ends_at=timezone.now() + timedelta(days=300), reason="x")
    window = MaintenanceWindow.objects.create(name="w", starts_at=T0, ends_at=T0 + timedelta(hours=1))
    return {"alert": alert, "rule": rule, "channel": webhook_channel, "policy": policy, "silence": silence,
            "window": window}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", READABLE)
def test_read_role_matrix(api_client, world, actor, prefix):
    response = api_client(actor).get(f"/api/v1/{prefix}/")
    if actor in ("viewer", "operator", "admin"):
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == refused(actor)


def bodies(world):
    return {
        "alert-rules": {"name": "new rule", "metric": "cpu", "threshold": 1, "window": "00:05:00"},
        "alert-channels": {"name": "new hook", "kind": "webhook", "url": "https://example.com/h", "secret": "k"},
        "escalation-policies": {"name": "new policy", "steps": []},
        "silences": {
            "rule": world["rule"].pk,
            "ends_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "reason": "deploy",
        },
        "maintenance-windows": {
            "name": "nightly",
            "starts_at": "2026-01-01T00:00:00Z",
            "cron": "0 2 * * *",
            "duration": "00:30:00",
        },
    }


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", ["alert-rules", "alert-channels", "escalation-policies", "silences",
                                    "maintenance-windows"])  # fmt: skip
def test_create_role_matrix(api_client, world, actor, prefix):
    response = api_client(actor).post(f"/api/v1/{prefix}/", bodies(world)[prefix], format="json")
    allowed = ("admin", "operator") if prefix == "silences" else ("admin",)
    if actor in allowed:
        assert response.status_code == 201, response.content
    else:
        assert response.status_code == refused(actor)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", ["alert-rules", "alert-channels", "escalation-policies", "silences",
                                    "maintenance-windows"])  # fmt: skip
def test_update_and_delete_are_for_admins(api_client, world, actor, prefix):
    key = {"alert-rules": "rule", "alert-channels": "channel", "escalation-policies": "policy",
           "silences": "silence", "maintenance-windows": "window"}[prefix]  # fmt: skip
    pk = world[key].pk
    client = api_client(actor)
    patch = client.patch(f"/api/v1/{prefix}/{pk}/", {}, format="json")
    delete = client.delete(f"/api/v1/{prefix}/{pk}/")
    if actor == "admin":
        assert (patch.status_code, delete.status_code) == (200, 204), patch.content
    else:
        assert patch.status_code == delete.status_code == refused(actor)


TRANSITIONS = {"acknowledge": ("firing", "acknowledged"), "unacknowledge": ("acknowledged", "firing"),
               "resolve": ("firing", "resolved"), "reopen": ("resolved", "firing")}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", TRANSITIONS)
def test_alert_actions_role_matrix(api_client, make_alert, users, actor, action):
    start, result = TRANSITIONS[action]
    alert = make_alert(status=start)
    response = api_client(actor).post(f"/api/v1/alerts/{alert.pk}/{action}/", {}, format="json")
    alert.refresh_from_db()
    if actor in ("operator", "admin"):
        assert response.status_code == 200, response.content
        assert response.json()["status"] == result == alert.status
        event = alert.events.latest("id")
        assert (event.actor.username, event.details) == (actor, {"via": "api"})
    else:
        assert response.status_code == refused(actor)
        assert alert.status == start


@pytest.mark.parametrize("actor", ACTORS)
def test_comment_role_matrix(api_client, make_alert, actor):
    alert = make_alert()
    response = api_client(actor).post(f"/api/v1/alerts/{alert.pk}/comment/", {"text": "on it"}, format="json")
    if actor in ("operator", "admin"):
        assert response.status_code == 201
        assert response.json()["kind"] == "commented" and response.json()["actor"] == actor
    else:
        assert response.status_code == refused(actor)


def test_refused_transition_is_409_with_the_current_status(api_client, make_alert):
    alert = make_alert(status="resolved")
    response = api_client("operator").post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 409
    assert response.json()["status"] == "resolved" and "Cannot acknowledge" in response.json()["detail"]


def test_empty_comment_names_the_field(api_client, make_alert):
    alert = make_alert()
    response = api_client("operator").post(f"/api/v1/alerts/{alert.pk}/comment/", {"text": ""}, format="json")
    assert response.status_code == 400 and "text" in response.json()


@pytest.mark.parametrize("actor", ACTORS)
def test_channel_test_action_is_for_admins(api_client, webhook_channel, actor):
    response = api_client(actor).post(f"/api/v1/alert-channels/{webhook_channel.pk}/test/")
    if actor == "admin":
        assert response.status_code == 202 and response.json()["event"] == "test"
    else:
        assert response.status_code == refused(actor)


@pytest.mark.parametrize("actor", ACTORS)
def test_silence_expire_is_for_operators(api_client, world, actor):
    response = api_client(actor).post(f"/api/v1/silences/{world['silence'].pk}/expire/")
    if actor in ("operator", "admin"):
        assert response.status_code == 200 and response.json()["active"] is False
    else:
        assert response.status_code == refused(actor)


def test_channel_secret_is_write_only(api_client, admin_secret_channel=None):
    client = api_client("admin")
    created = client.post(
        "/api/v1/alert-channels/",
        {"name": "h", "kind": "webhook", "url": "https://example.com/h", "secret": "hunter2"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert "secret" not in body and body["has_secret"] is True
    listed = client.get("/api/v1/alert-channels/").content.decode()
    assert "hunter2" not in listed
    # a blank secret on update keeps the stored one
    client.patch(f"/api/v1/alert-channels/{body['id']}/", {"secret": "", "name": "h2"}, format="json")
    assert Channel.objects.get(pk=body["id"]).secret == "hunter2"


@pytest.mark.parametrize("actor", ["viewer", "admin"])
def test_webhook_url_is_write_only_and_only_its_host_is_shown(api_client, actor):
    secret_url = "https://hooks.example.com:8443/T0K3N/path?token=abc"
    created = api_client("admin").post(
        "/api/v1/alert-channels/", {"name": "h", "kind": "webhook", "url": secret_url, "secret": "k"}, format="json"
    )
    assert created.status_code == 201 and "url" not in created.json()
    client = api_client(actor)
    for response in (
        client.get("/api/v1/alert-channels/"),
        client.get(f"/api/v1/alert-channels/{created.json()['id']}/"),
    ):
        assert response.status_code == 200 and "T0K3N" not in response.content.decode()
    assert response.json()["url_host"] == "hooks.example.com:8443"
    # blank on update keeps the stored URL, a new one replaces it
    api_client("admin").patch(f"/api/v1/alert-channels/{created.json()['id']}/", {"url": ""}, format="json")
    assert Channel.objects.get(pk=created.json()["id"]).url == secret_url


@pytest.mark.parametrize(
    "entry",
    [{"address": "x@example.com", "ack": "yes"}, {"address": "nope", "ack": True}, {"adress": "x@example.com"}, 5],
)
def test_email_channel_refuses_malformed_ack_addresses(api_client, entry):
    response = api_client("admin").post(
        "/api/v1/alert-channels/", {"name": "e", "kind": "email", "addresses": [entry]}, format="json"
    )
    assert response.status_code == 400 and "[0]" in response.json()["addresses"][0]


def test_email_channel_accepts_ack_addresses(api_client):
    addresses = ["a@example.com", {"address": "b@example.com", "ack": True}]
    response = api_client("admin").post(
        "/api/v1/alert-channels/", {"name": "e", "kind": "email", "addresses": addresses}, format="json"
    )
    assert response.status_code == 201, response.json()
    channel = Channel.objects.get(pk=response.json()["id"])
    assert channel.email_recipients() == ["a@example.com", "b@example.com"]
    assert channel.ack_addresses() == {"b@example.com"}


def test_channel_config_errors_name_the_field(api_client):
    client = api_client("admin")
    response = client.post("/api/v1/alert-channels/", {"name": "s", "kind": "slack", "secret": "nope"}, format="json")
    assert response.status_code == 400 and "secret" in response.json()
    response = client.post("/api/v1/alert-channels/", {"name": "w", "kind": "webhook"}, format="json")
    assert response.status_code == 400 and {"url", "secret"} <= response.json().keys()
    response = client.post(
        "/api/v1/alert-channels/", {"name": "e", "kind": "email", "addresses": ["not-an-address"]}, format="json"
    )
    assert response.status_code == 400 and "addresses" in response.json()


def test_rule_validation_names_the_field(api_client):
    client = api_client("admin")
    bad = {"name": "r", "metric": "cpu", "matchers": [{"label": "x", "op": "=~", "value": "("}]}
    response = client.post("/api/v1/alert-rules/", bad, format="json")
    assert response.status_code == 400 and "matchers" in response.json()
    response = client.post("/api/v1/alert-rules/", {"name": "r"}, format="json")
    assert response.status_code == 400 and "metric" in response.json()
    response = client.post("/api/v1/alert-rules/", {"name": "r", "metric": "m", "window": "00:00:10"}, format="json")
    assert response.status_code == 400 and "window" in response.json()
    response = client.post("/api/v1/alert-rules/", {"name": "r", "metric": "m", "aggregation": "p42"}, format="json")
    assert response.status_code == 400 and "aggregation" in response.json()


def test_rule_round_trip(api_client, service, webhook_channel):
    body = {
        "name": "checkout p95", "metric": "http_latency_ms", "service": "checkout", "aggregation": "p95",
        "window": "00:10:00", "comparison": "gt", "threshold": 500, "for_duration": "00:05:00",
        "severity": "critical", "labels": {"team": "payments"}, "summary": "p95 {value:.0f} ms",
        "matchers": [{"label": "route", "op": "=~", "value": "/api/.*"}], "channels": [webhook_channel.pk],
    }  # fmt: skip
    response = api_client("admin").post("/api/v1/alert-rules/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["condition"] == "p95(http_latency_ms[10m]) > 500"
    rule = AlertRule.objects.get(pk=data["id"])
    assert rule.service == service and list(rule.channels.all()) == [webhook_channel]
    assert rule.for_duration == timedelta(minutes=5)


def test_escalation_policy_with_nested_steps(api_client, webhook_channel, users):
    body = {"name": "night", "repeat": 2, "steps": [
        {"order": 0, "wait_minutes": 0, "channels": [webhook_channel.pk], "users": []},
        {"order": 1, "wait_minutes": 15, "channels": [], "users": [users["admin"].pk]},
    ]}  # fmt: skip
    client = api_client("admin")
    created = client.post("/api/v1/escalation-policies/", body, format="json")
    assert created.status_code == 201, created.content
    policy = EscalationPolicy.objects.get(name="night")
    assert [(s.wait_minutes, list(s.users.all())) for s in policy.steps.all()] == [(0, []), (15, [users["admin"]])]
    client.patch(f"/api/v1/escalation-policies/{policy.pk}/", {"steps": [{"wait_minutes": 5}]}, format="json")
    assert [s.wait_minutes for s in policy.steps.all()] == [5]


def test_silence_created_by_an_operator_records_the_author_and_holds_alerts(api_client, make_alert, rule, users):
    alert = make_alert(rule=rule)
    response = api_client("operator").post(
        "/api/v1/silences/",
        {"rule": rule.pk, "ends_at": (timezone.now() + timedelta(days=30)).isoformat(), "reason": "deploy"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["author"] == "operator"
    alert.refresh_from_db()
    assert alert.suppressed_until is not None


def test_silence_must_end_after_it_starts_and_match_something(api_client, rule):
    client = api_client("operator")
    response = client.post(
        "/api/v1/silences/",
        {"ends_at": (timezone.now() + timedelta(days=30)).isoformat(), "reason": "x"},
        format="json",
    )
    assert response.status_code == 400 and "matchers" in response.json()
    response = client.post(
        "/api/v1/silences/",
        {"rule": rule.pk, "starts_at": "2100-01-02T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400 and "ends_at" in response.json()


def test_maintenance_window_validation_names_the_field(api_client):
    response = api_client("admin").post(
        "/api/v1/maintenance-windows/",
        {"name": "w", "starts_at": "2026-01-01T00:00:00Z", "cron": "0 2 * * *"},
        format="json",
    )
    assert response.status_code == 400 and "duration" in response.json()


def test_alert_history_filters(api_client, make_alert, clock, other_service, users):
    rule_a, rule_b = AlertRuleFactory(name="a"), AlertRuleFactory(name="b")
    first = make_alert(rule=rule_a)
    alert_resolve(alert=first, by=users["operator"], via="page")
    clock.move_to(T0 + timedelta(hours=2))
    second = make_alert(rule=rule_b, on=other_service, service="billing")
    client = api_client("viewer")

    def ids(query):
        response = client.get(f"/api/v1/alerts/?{query}")
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["results"]]

    assert ids("") == [second.pk, first.pk]  # newest first
    assert ids("status=resolved") == [first.pk]
    assert ids("status=firing&status=resolved") == [second.pk, first.pk]
    assert ids(f"rule={rule_a.pk}") == [first.pk]
    assert ids("service=billing") == [second.pk]
    assert ids("since=2026-03-02T10:00:00Z") == [second.pk]
    assert ids("until=2026-03-02T10:00:00Z") == [first.pk]
    assert client.get("/api/v1/alerts/?status=bogus").status_code == 400


def test_alerts_use_cursor_pagination(api_client, make_alert):
    for _ in range(5):
        make_alert()
    client = api_client("viewer")
    page = client.get("/api/v1/alerts/?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"] and "count" not in page
    seen = [a["id"] for a in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [a["id"] for a in page["results"]]
    assert len(seen) == len(set(seen)) == 5


def test_event_stream_filters_by_alert_kind_and_time(api_client, make_alert, users):
    alert = make_alert()
    other = make_alert()
    alert_comment(alert=alert, by=users["operator"], via="page", text="hello")
    client = api_client("viewer")
    events = client.get(f"/api/v1/alert-events/?alert={alert.pk}").json()["results"]
    assert [e["kind"] for e in events] == ["commented", "triggered"]
    assert all(e["alert"] == alert.pk for e in events)
    kinds = client.get("/api/v1/alert-events/?kind=triggered").json()["results"]
    assert {e["alert"] for e in kinds} == {alert.pk, other.pk}


def test_channel_shows_its_permanent_error(api_client):
    channel = ChannelFactory(last_error="HTTP 404: no such hook", last_error_at=T0)
    data = api_client("viewer").get(f"/api/v1/alert-channels/{channel.pk}/").json()
    assert data["is_broken"] is True and data["last_error"].startswith("HTTP 404")


DETAIL = {"alert-rules": "rule", "alert-channels": "channel", "escalation-policies": "policy", "silences": "silence",
          "maintenance-windows": "window", "alerts": "alert"}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", [*DETAIL, "alert-events"])
def test_retrieve_role_matrix(api_client, world, actor, prefix):
    pk = world["alert"].events.first().pk if prefix == "alert-events" else world[DETAIL[prefix]].pk
    response = api_client(actor).get(f"/api/v1/{prefix}/{pk}/")
    if actor in ("viewer", "operator", "admin"):
        assert response.status_code == 200 and response.json()["id"] == pk
    else:
        assert response.status_code == refused(actor)


def test_rule_states_show_what_is_pending(api_client, clock, rule):
    rule.for_duration = timedelta(minutes=5)
    rule.save()
    RuleState.objects.create(rule=rule, fingerprint="a", labels={"route": "/pay"}, active_since=T0, value=250)
    RuleState.objects.create(rule=rule, fingerprint="b", labels={}, active_since=None)
    clock.move_to(T0 + timedelta(minutes=2))
    rows = api_client("viewer").get("/api/v1/alert-rule-states/?active_since__isnull=false").json()["results"]
    # DRF writes times in TIME_ZONE ("Z" in UTC, "+05:30" in Asia/Kolkata): the same moment.
    assert [(r["labels"], r["pending"], parse_datetime(r["fires_at"])) for r in rows] == [
        ({"route": "/pay"}, True, T0 + timedelta(minutes=5))
    ]


def test_rule_window_and_for_are_bounded(api_client):
    """A typo like a 3650-day window would read years of rollups every minute (or overflow)."""
    client = api_client("admin")
    body = {"name": "r", "metric": "m", "window": "1 00:00:01"}
    response = client.post("/api/v1/alert-rules/", body, format="json")
    assert response.status_code == 400 and "window" in response.json()
    response = client.post("/api/v1/alert-rules/", {**body, "window": "1 00:00:00"}, format="json")
    assert response.status_code == 201, response.content
    response = client.post(
        "/api/v1/alert-rules/", {"name": "r2", "metric": "m", "for_duration": "8 00:00:00"}, format="json"
    )
    assert response.status_code == 400 and "for_duration" in response.json()


def test_maintenance_window_duration_is_bounded(api_client):
    body = {"name": "w", "starts_at": "2026-01-01T00:00:00Z", "cron": "0 2 * * *", "duration": "999999 00:00:00"}
    response = api_client("admin").post("/api/v1/maintenance-windows/", body, format="json")
    assert response.status_code == 400 and "duration" in response.json()


@pytest.mark.parametrize(
    "query",
    ["alerts/?rule=99999999999999999999", "alerts/?rule=1.5", "alert-events/?alert=99999999999999999999",
     "alert-events/?rule=abc"],
)  # fmt: skip
def test_bad_id_filters_are_a_400_naming_the_field(api_client, query):
    response = api_client("viewer").get(f"/api/v1/{query}")
    assert response.status_code == 400
    assert query.split("?")[1].split("=")[0] in response.json()
