"""Pages and API of report subscriptions and reports: who may do what, ownership, bad input,
constant query counts."""

from datetime import UTC, datetime, time

import pytest
from django.core import mail

from reporting.digest import subscription_reschedule
from reporting.models import Report, ReportSubscription

ACTORS = ("anonymous", "norole", "viewer", "operator", "admin")
PEOPLE = ("viewer", "operator", "admin")


def _sub(user, **kw):
    sub = ReportSubscription.objects.create(user=user, name=kw.pop("name", f"{user.username} digest"), **kw)
    subscription_reschedule(sub=sub)
    return sub


def _report(sub):
    return Report.objects.create(
        subscription=sub,
        user=sub.user,
        kind="weekly",
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=datetime(2026, 3, 8, tzinfo=UTC),
        figures={},
        html="<p>stored</p><script>alert(1)</script>",
        text="stored",
        trigger="manual",  # several per period allowed
    )


@pytest.fixture
def own(users):
    return {name: _sub(users[name]) for name in PEOPLE}


@pytest.mark.parametrize("actor", ACTORS)
def test_pages_need_a_login_and_the_viewer_role(page_client, own, actor):
    client = page_client(actor)
    for url in ("/reporting/subscriptions/", "/reporting/subscriptions/new/", "/reporting/reports/"):
        response = client.get(url)
        if actor == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"]
        elif actor == "norole":
            assert response.status_code == 403
        else:
            assert response.status_code == 200


def test_a_service_key_is_no_login_for_pages(client, own, other_key):
    response = client.get("/reporting/subscriptions/", HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("actor", PEOPLE)
def test_people_see_and_change_only_their_own_subscriptions_admins_everyones(page_client, users, own, actor):
    client = page_client(actor)
    listed = client.get("/reporting/subscriptions/").content.decode()
    assert f"{actor} digest" in listed
    assert all(f"{other} digest" not in listed for other in PEOPLE if other != actor)
    for other in PEOPLE:
        sub = own[other]
        expected = 200 if other == actor or actor == "admin" else 404
        assert client.get(f"/reporting/subscriptions/{sub.pk}/").status_code == expected
        assert client.get(f"/reporting/subscriptions/{sub.pk}/preview/").status_code == expected
    victim = own["viewer"] if actor != "viewer" else own["operator"]
    response = client.post(f"/reporting/subscriptions/{victim.pk}/delete/")
    assert response.status_code == (302 if actor == "admin" else 404)
    assert ReportSubscription.objects.filter(pk=victim.pk).exists() == (actor != "admin")


def test_create_edit_preview_send_now_and_delete_from_the_pages(page_client, users):
    users["viewer"].email = "v@example.com"
    users["viewer"].save()
    client = page_client("viewer")
    form = {
        "name": "Weekly ops",
        "frequency": "weekly",
        "sections": ["errors", "alerts"],
        "send_time": "07:30",
        "weekday": "4",
        "monthday": "1",
        "time_zone": "Asia/Tokyo",
        "email_enabled": "on",
        "enabled": "on",
    }
    assert client.post("/reporting/subscriptions/new/", form).status_code == 302
    sub = ReportSubscription.objects.get(user=users["viewer"])
    assert sub.sections == ["alerts", "errors"]  # the registry's order
    local = sub.next_send_at.astimezone(sub.zone)
    assert (local.weekday(), local.hour, local.minute) == (4, 7, 30)
    preview = client.get(f"/reporting/subscriptions/{sub.pk}/preview/")
    assert preview.status_code == 200 and b'id="report-html"' in preview.content
    assert Report.objects.count() == 0 and not mail.outbox  # a preview stores and sends nothing
    response = client.post(f"/reporting/subscriptions/{sub.pk}/send/")
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reporting/reports/{report.pk}/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["v@example.com"]
    assert client.get(f"/reporting/subscriptions/{sub.pk}/send/").status_code == 405
    assert client.post(f"/reporting/subscriptions/{sub.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.exists() and Report.objects.filter(subscription=None).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus", "IANA"),
        ("sections", ["nonsense"], "nonsense"),
        ("monthday", "31", "28"),
        ("weekday", "7", "6"),
        ("send_time", "25:00", "time"),
    ],
)
def test_bad_form_input_is_a_400_naming_the_field(page_client, field, value, message):
    form = {"name": "x", "frequency": "daily", "sections": ["alerts"], "send_time": "08:00", "weekday": "0"}
    form.update({"monthday": "1", "time_zone": "UTC", field: value})
    response = page_client("viewer").post("/reporting/subscriptions/new/", form)
    assert response.status_code == 400
    assert message in response.content.decode() and f'name="{field}"' in response.content.decode()
    assert not ReportSubscription.objects.exists()


@pytest.mark.parametrize("actor", PEOPLE)
def test_reports_are_listed_and_shown_to_their_owner_and_admins(page_client, own, actor):
    reports = {name: _report(sub) for name, sub in own.items()}
    client = page_client(actor)
    for other, report in reports.items():
        response = client.get(f"/reporting/reports/{report.pk}/")
        assert response.status_code == (200 if other == actor or actor == "admin" else 404)
    page = client.get(f"/reporting/reports/{reports[actor].pk}/").content.decode()
    # The stored HTML only as a sandboxed frame's escaped srcdoc, never as markup of the page.
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "sandbox" in page


def test_the_report_list_has_a_constant_number_of_queries(page_client, users, django_assert_max_num_queries):
    sub = _sub(users["admin"])
    for _ in range(30):
        _report(sub)
    admin, viewer = page_client("admin"), page_client("viewer")
    with django_assert_max_num_queries(8):
        response = admin.get("/reporting/reports/")
    assert response.status_code == 200 and response.content.count(b"/reporting/reports/") >= 30
    for _ in range(5):
        _sub(users["viewer"])
    with django_assert_max_num_queries(8):
        assert viewer.get("/reporting/subscriptions/").status_code == 200


# --- API -----------------------------------------------------------------------------------

API = "/api/v1/reporting/subscriptions/"
BODY = {"name": "api", "frequency": "daily", "sections": ["alerts"], "send_time": "06:00", "time_zone": "Europe/Berlin"}


@pytest.mark.parametrize("actor", [*ACTORS, "other_key"])
def test_api_roles(api_client, own, actor):
    client = api_client(actor)
    expected_read = {"anonymous": 401, "other_key": 403, "norole": 403}.get(actor, 200)
    assert client.get(API).status_code == expected_read
    assert client.get("/api/v1/reporting/reports/").status_code == expected_read
    response = client.post(API, BODY, format="json")
    assert response.status_code == {"anonymous": 401, "other_key": 403, "norole": 403}.get(actor, 201)


@pytest.mark.parametrize("actor", PEOPLE)
def test_api_people_manage_their_own_admins_everyones(api_client, users, own, actor):
    client = api_client(actor)
    ids = {row["id"] for row in client.get(API).json()["results"]}
    assert ids == ({s.pk for s in own.values()} if actor == "admin" else {own[actor].pk})
    victim = own["viewer"] if actor != "viewer" else own["operator"]
    assert client.patch(f"{API}{victim.pk}/", {"name": "mine"}, format="json").status_code == (
        200 if actor == "admin" else 404
    )
    assert client.get(f"{API}{victim.pk}/preview/").status_code == (200 if actor == "admin" else 404)
    response = client.post(API, {**BODY, "user": users["viewer"].pk}, format="json")
    if actor in ("viewer", "admin"):
        assert response.status_code == 201 and response.json()["user"] == users["viewer"].pk
    else:
        assert response.status_code == 400 and "user" in response.json()


def test_api_create_computes_next_send_and_send_now_stores_a_report(api_client, users):
    client = api_client("viewer")
    created = client.post(API, BODY, format="json").json()
    assert created["send_time"] == "06:00"  # local wall-clock time, no offset
    sub = ReportSubscription.objects.get(pk=created["id"])
    assert sub.next_send_at is not None and sub.next_send_at.astimezone(sub.zone).time() == time(6, 0)
    preview = client.get(f"{API}{sub.pk}/preview/").json()
    assert set(preview["figures"]) == {"alerts"} and "Alerts" in preview["text"]
    assert not Report.objects.exists()
    sent = client.post(f"{API}{sub.pk}/send/")
    assert sent.status_code == 201 and sent.json()["trigger"] == "manual"
    detail = client.get(f"/api/v1/reporting/reports/{sent.json()['id']}/").json()
    assert "Alerts" in detail["text"] and detail["figures"]["alerts"]["title"] == "Alerts"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Not/AZone"),
        ("sections", ["alerts", "alerts"]),
        ("sections", []),
        ("sections", "alerts"),
        ("monthday", 0),
        ("weekday", 9),
        ("frequency", "hourly"),
        ("send_time", "25:00"),
        ("send_time", "8am"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(api_client, field, value):
    response = api_client("viewer").post(API, {**BODY, field: value}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_api_refuses_an_email_channel(api_client):
    from monitoring.alerting.models import Channel

    channel = Channel.objects.create(name="mail", kind="email")
    response = api_client("viewer").post(API, {**BODY, "channel": channel.pk}, format="json")
    assert response.status_code == 400 and "channel" in response.json()


def test_at_most_twenty_subscriptions_per_person(api_client, users):
    for n in range(20):
        _sub(users["viewer"], name=f"s{n}")
    response = api_client("viewer").post(API, BODY, format="json")
    assert response.status_code == 400 and "20" in str(response.json())
