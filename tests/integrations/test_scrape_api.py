"""The scrape-targets API and admin: validation names the field, the bearer token is write-only."""

import pytest

from monitoring.integrations.models import ScrapeTarget

URL = "/api/v1/integrations/scrape-targets/"


def body(**overrides):
    return {"service": "checkout", "url": "http://app:8000/metrics", **overrides}


@pytest.mark.django_db
def test_admin_creates_a_target_and_the_token_is_never_returned(api_client, service):
    client = api_client("admin")
    response = client.post(URL, body(bearer_token="s3cret", labels={"env": "prod"}), format="json")
    assert response.status_code == 201, response.content
    assert "bearer_token" not in response.json() and response.json()["has_bearer_token"] is True
    target = ScrapeTarget.objects.get()
    assert target.bearer_token == "s3cret" and target.labels == {"env": "prod"}
    # A blank token on update keeps the stored one.
    response = client.patch(f"{URL}{target.pk}/", {"bearer_token": "", "interval_seconds": 30}, format="json")
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.bearer_token == "s3cret" and target.interval_seconds == 30
    listed = api_client("viewer").get(URL).json()
    assert "s3cret" not in str(listed)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "ftp://app/metrics"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"interval_seconds": 14}, "interval_seconds"),
        ({"interval_seconds": 86_401}, "interval_seconds"),
        ({"timeout_seconds": 61, "interval_seconds": 120}, "timeout_seconds"),
        ({"timeout_seconds": 30, "interval_seconds": 30}, "timeout_seconds"),
        ({"series_limit": 20_001}, "series_limit"),
        ({"series_limit": 0}, "series_limit"),
        ({"labels": {"le": "1"}}, "labels"),
        ({"labels": {"bad-name": "x"}}, "labels"),
        ({"labels": {"env": 1}}, "labels"),
        ({"service": "nope"}, "service"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, service, overrides, field):
    response = api_client("admin").post(URL, body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.django_db
def test_admin_form_keeps_the_token_and_never_renders_it(page_client, service):
    target = ScrapeTarget.objects.create(service=service, url="http://app:8000/metrics", bearer_token="s3cret")
    client = page_client("admin")
    page = client.get(f"/admin/integrations/scrapetarget/{target.pk}/change/")
    assert page.status_code == 200 and b"s3cret" not in page.content
    form = {
        "service": service.pk, "url": target.url, "interval_seconds": 60, "timeout_seconds": 10,
        "bearer_token": "", "labels": "{}", "enabled": "on", "series_limit": 100,
    }  # fmt: skip
    response = client.post(f"/admin/integrations/scrapetarget/{target.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    target.refresh_from_db()
    assert target.bearer_token == "s3cret" and target.series_limit == 100
