"""The endpoints pages, chart JSON and API: who may see them, what they show, bad input, and a
fixed number of queries however many routes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.ingest import samples_write
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS, WEB_VITALS
from tests.monitoring.conftest import row

PAGE_ACTORS = {"anonymous": 302, "viewer": 200, "operator": 200, "admin": 200}
API_ACTORS = {"anonymous": 401, "viewer": 200, "operator": 200, "admin": 200, "other_key": 403}


@pytest.fixture
def traffic(service):
    """Requests of the last minutes (raw samples: nothing rolled up yet)."""
    now = timezone.now() - timedelta(minutes=2)
    rows = []
    for i in range(8):
        rows.append(
            row(service, REQUEST_DURATION, 0.02 * (i + 1), now, route="/a/<int:pk>/", method="GET", status_class="2xx")
        )
    rows.append(row(service, REQUEST_DURATION, 1.5, now, route="/a/<int:pk>/", method="GET", status_class="5xx"))
    rows.append(row(service, REQUEST_EXCEPTIONS, 1, now, route="/a/<int:pk>/", method="GET"))
    rows.append(row(service, REQUEST_DURATION, 0.4, now, route="/slow/", method="POST", status_class="4xx"))
    rows.append(row(service, WEB_VITALS, 1800, now, route="/a/<int:pk>/", vital="LCP"))
    samples_write(rows)


def endpoints_url(**query) -> str:
    return reverse("monitoring:endpoints") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def detail_url(service, route="/a/<int:pk>/", method="GET", **query) -> str:
    query = {"route": route, "method": method, **query}
    return reverse("monitoring:endpoint", args=[service.slug]) + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def chart_url(service, what, route="/a/<int:pk>/", method="GET") -> str:
    base = reverse("monitoring:endpoint-chart", args=[service.slug])
    return f"{base}?route={route}&method={method}&range=1h&what={what}"


@pytest.mark.parametrize(("actor", "status"), PAGE_ACTORS.items())
def test_endpoints_page_roles(page_client, service, actor, status):
    assert page_client(actor).get(endpoints_url(service=service.slug)).status_code == status
    assert page_client(actor).get(detail_url(service)).status_code == status


def test_a_user_without_a_role_is_refused(page_client, service):
    assert page_client("norole").get(endpoints_url()).status_code == 403


def test_a_service_key_is_no_login_for_the_pages(client, service, other_key):
    response = client.get(endpoints_url(service=service.slug), HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(("actor", "status"), [("anonymous", 403), ("viewer", 200), ("admin", 200)])
def test_chart_roles(page_client, service, actor, status):
    assert page_client(actor).get(chart_url(service, "latency")).status_code == status


def test_the_page_lists_endpoints_with_their_figures(page_client, service, traffic):
    response = page_client("viewer").get(endpoints_url(service=service.slug, range="1h"))
    rows = response.context["rows"]
    assert [(e.route, e.method, e.requests, e.errors, e.raised) for e in rows] == [
        ("/a/<int:pk>/", "GET", 9, 1, 1),
        ("/slow/", "POST", 1, 0, 0),
    ]
    html = response.content.decode()
    assert "/a/&lt;int:pk&gt;/" in html and "11.11 %" in html  # 1 of 9 failed
    assert "Page timings" in html and "1,800" in html  # LCP p75
    assert f'href="{reverse("monitoring:endpoint", args=[service.slug])}?route=/a/%3Cint%3Apk%3E/' in html


def test_columns_sort_both_ways(page_client, service, traffic):
    client = page_client("viewer")
    slowest = client.get(endpoints_url(service=service.slug, range="1h", sort="-p50")).context["rows"]
    assert [e.route for e in slowest] == ["/slow/", "/a/<int:pk>/"]
    by_route = client.get(endpoints_url(service=service.slug, range="1h", sort="route"))
    assert [e.route for e in by_route.context["rows"]] == ["/a/<int:pk>/", "/slow/"]
    assert "sort=-route" in by_route.content.decode()  # the active column's link sorts the other way


def test_unknown_sort_and_range_fall_back_to_the_defaults(page_client, service, traffic):
    response = page_client("viewer").get(endpoints_url(service=service.slug, range="1y", sort="size"))
    assert response.status_code == 200
    assert (response.context["range"], response.context["ordering"]) == ("24h", "-requests")


def test_an_unknown_service_is_404(page_client, service):
    assert page_client("viewer").get(endpoints_url(service="nope")).status_code == 404


def test_the_service_selector_lists_every_service(page_client, service, other_service):
    html = page_client("viewer").get(endpoints_url(service=other_service.slug)).content.decode()
    assert 'value="checkout"' in html and 'value="billing" selected' in html
    assert "No requests recorded for Billing" in html


def test_the_page_queries_do_not_grow_with_routes(page_client, service):
    client = page_client("viewer")
    client.get(endpoints_url(service=service.slug))  # the first request also loads the user
    now = timezone.now() - timedelta(minutes=1)

    def queries(routes: int) -> int:
        samples_write(
            [
                row(service, REQUEST_DURATION, 0.1, now, route=f"/r{i}/", method="GET", status_class="2xx")
                for i in range(routes)
            ]
        )
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(endpoints_url(service=service.slug)).status_code == 200
        return len(ctx.captured_queries)

    assert queries(3) == queries(50)


def test_the_detail_page_shows_the_endpoint_and_its_charts(page_client, service, traffic):
    response = page_client("viewer").get(detail_url(service, range="1h"))
    assert response.context["stats"].requests == 9
    assert response.context["vitals"]["LCP"] == pytest.approx(1800, rel=0.01)
    html = response.content.decode()
    assert html.count("data-chart-url") == 2 and "what=throughput" in html


def test_the_detail_page_needs_route_and_method(page_client, service):
    response = page_client("viewer").get(reverse("monitoring:endpoint", args=[service.slug]) + "?method=GET")
    assert response.status_code == 400 and b"route" in response.content
    assert page_client("viewer").get(detail_url(service, route="/x" * 200)).status_code == 400


def test_an_endpoint_without_requests_says_so(page_client, service):
    html = page_client("viewer").get(detail_url(service, route="/quiet/")).content.decode()
    assert "No requests to this endpoint" in html


def test_latency_chart_json(page_client, service, traffic):
    data = page_client("viewer").get(chart_url(service, "latency")).json()
    assert [d["label"] for d in data["datasets"]] == ["p50 (ms)", "p95 (ms)", "p99 (ms)"]
    assert len(data["labels"]) in (60, 61)  # the minute under way, when `now` is inside one
    p50, p99 = ([v for v in data["datasets"][i]["data"] if v is not None] for i in (0, 2))
    # nine requests in one minute: ranks taken from below, like the sketch does
    assert p50 == [pytest.approx(100, rel=0.01)] and p99 == [pytest.approx(160, rel=0.01)]


def test_throughput_chart_json(page_client, service, traffic):
    data = page_client("viewer").get(chart_url(service, "throughput")).json()
    requests, errors = (d["data"] for d in data["datasets"])
    assert sum(requests) == pytest.approx(9) and sum(errors) == pytest.approx(1)


def test_the_chart_needs_route_and_method(page_client, service):
    url = reverse("monitoring:endpoint-chart", args=[service.slug])
    assert page_client("viewer").get(url).status_code == 400


def test_the_service_page_shows_success_and_failure_rates(page_client, service, traffic):
    response = page_client("viewer").get(reverse("monitoring:service", args=[service.slug]) + "?range=1h")
    summary = response.context["requests"]
    assert (summary.requests, summary.client_errors, summary.server_errors) == (10, 1, 1)
    html = response.content.decode()
    assert "80 %" in html and "10 %" in html
    assert reverse("monitoring:endpoints") + f"?service={service.slug}" in html


def test_the_nav_links_to_the_endpoints_page(page_client):
    assert f'href="{reverse("monitoring:endpoints")}"' in page_client("viewer").get("/").content.decode()


# --- API


@pytest.mark.parametrize(("actor", "status"), API_ACTORS.items())
def test_api_roles(api_client, service, actor, status):
    assert api_client(actor).get("/api/v1/endpoints/", {"service": service.slug}).status_code == status


def test_a_services_own_key_may_not_read_it_either(client, service, service_key):
    response = client.get(f"/api/v1/endpoints/?service={service.slug}", HTTP_AUTHORIZATION=f"Bearer {service_key.raw}")
    assert response.status_code == 403


def test_api_answers_the_figures(api_client, service, traffic):
    body = api_client("viewer").get("/api/v1/endpoints/", {"service": service.slug, "range": "1h"}).json()
    assert (body["service"], body["range"]) == ("checkout", "1h")
    first = body["endpoints"][0]
    assert {k: first[k] for k in ("route", "method", "requests", "errors", "client_errors", "raised")} == {
        "route": "/a/<int:pk>/",
        "method": "GET",
        "requests": 9,
        "errors": 1,
        "client_errors": 0,
        "raised": 1,
    }
    assert first["error_rate"] == pytest.approx(1 / 9)
    assert first["p50"] == pytest.approx(0.1, rel=0.01) and first["p99"] == pytest.approx(0.16, rel=0.01)
    assert body["vitals"][0]["route"] == "/a/<int:pk>/"
    assert body["vitals"][0]["p75"]["LCP"] == pytest.approx(1800, rel=0.01)


def test_api_ordering(api_client, service, traffic):
    body = api_client("viewer").get("/api/v1/endpoints/", {"service": service.slug, "range": "1h", "ordering": "-p95"})
    assert [e["route"] for e in body.json()["endpoints"]] == ["/slow/", "/a/<int:pk>/"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "service"),
        ({"service": "nope"}, "service"),
        ({"service": "checkout", "range": "1y"}, "range"),
        ({"service": "checkout", "range": ""}, "range"),
        ({"service": "checkout", "ordering": "size"}, "ordering"),
    ],
)
def test_api_bad_input_names_the_field(api_client, service, query, field):
    response = api_client("viewer").get("/api/v1/endpoints/", query)
    assert response.status_code == 400
    assert field in response.json()


def test_api_is_in_the_schema(api_client):
    schema = api_client("viewer").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/endpoints/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"service", "range", "ordering"}


def test_api_queries_do_not_grow_with_routes(api_client, service):
    client = api_client("viewer")
    client.get("/api/v1/endpoints/", {"service": service.slug})  # the first request also loads the user
    now = timezone.now() - timedelta(minutes=1)

    def queries(routes: int) -> int:
        samples_write(
            [
                row(service, REQUEST_DURATION, 0.1, now, route=f"/q{i}/", method="GET", status_class="2xx")
                for i in range(routes)
            ]
        )
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/endpoints/", {"service": service.slug}).status_code == 200
        return len(ctx.captured_queries)

    assert queries(3) == queries(50)
