"""The 403 page says which role a page needs and whom to ask; navigation shows only the pages a
person may open; the favicon is served."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.http import HttpResponse

from portal.access import RoleRequired, operator_required
from portal.errorpages import permission_denied
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
APP_PAGES = ("/alerts/", "/monitoring/", "/monitoring/health/", "/codehealth/")


def nav(html: str) -> str:
    return re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)


def test_a_user_without_a_role_gets_a_styled_403_naming_the_role_and_the_admins(page_client, users):
    UserFactory(username="ada", first_name="Ada", last_name="Lovelace", is_staff=True)
    UserFactory(username="gone", is_staff=True, is_active=False)
    response = page_client("norole").get("/alerts/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="denied"' in html and "portal.css" in html  # the portal's page, not Django's bare one
    assert "This page needs the <b>viewer</b> role" in html
    assert "has no role yet" in html
    assert "ask one to add you to the <b>viewer</b> group" in html
    admins = re.search(r'<ul id="admins">(.*?)</ul>', html, re.S).group(1)
    assert "Ada Lovelace" in admins and 'href="mailto:ada@example.com"' in admins
    assert "admin@example.com" in admins  # the admin-group member of the fixture
    assert "gone" not in admins and "norole" not in admins and "viewer@" not in admins


def test_a_viewer_refused_an_operator_action_sees_the_reason_and_current_role(page_client, users):
    UserFactory(username="boss", is_superuser=True)
    html = page_client("viewer").post("/codehealth/1/scan/").content.decode()
    assert 'id="denied"' in html
    # Not a role_required refusal: the view's own message is shown, and still whom to ask.
    assert "Your role does not allow this." in html and 'id="admins"' in html


def test_operator_pages_name_the_operator_role(rf, users):
    @operator_required
    def page(request):
        return HttpResponse("ok")

    request = rf.get("/x/")
    request.user = users["viewer"]
    with pytest.raises(RoleRequired) as refused:
        page(request)
    response = permission_denied(request, refused.value)
    html = response.content.decode()
    assert response.status_code == 403
    assert "needs the <b>operator</b> role" in html and "has the <b>viewer</b> role" in html


def test_navigation_hides_pages_a_user_without_a_role_cannot_open(page_client, users):
    home = page_client("norole").get("/").content.decode()
    links = nav(home)
    for url in APP_PAGES:
        assert f'href="{url}"' not in links
    assert "/api/docs/" not in links and "/admin/" not in links
    assert 'id="tasks-chart"' not in home  # its JSON would answer 403


@pytest.mark.parametrize("actor", ["viewer", "operator"])
def test_navigation_shows_the_pages_of_a_role(page_client, actor):
    home = page_client(actor).get("/").content.decode()
    links = nav(home)
    for url in APP_PAGES:
        assert f'href="{url}"' in links
    assert "/api/docs/" in links and "/admin/" not in links
    assert 'id="tasks-chart"' in home


def test_the_favicon_is_linked_and_served(page_client, client):
    html = page_client("viewer").get("/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/portal/favicon\.svg"', html)
    response = client.get("/favicon.ico")  # anonymous: browsers ask before anyone logs in
    assert response.status_code == 302 and response["Location"] == "/static/portal/favicon.svg"
    # Served by WhiteNoise from STATIC_ROOT after collectstatic; the browser test fetches it live.
    with open(finders.find("portal/favicon.svg"), "rb") as svg:
        assert svg.read().startswith(b"<svg")
