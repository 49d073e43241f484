"""The request middleware: routes as patterns, status classes, raised requests, exclusions,
sampling, and recording failures that never reach the client."""

import json
import logging
import random

import pytest
from asgiref.sync import async_to_sync
from django.http import Http404, HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.urls import include, path, re_path
from django.views.decorators.http import require_POST

from monitoring import requests as request_metrics
from monitoring.metrics import REGISTRY
from monitoring.requests import REQUEST_DURATION, REQUEST_EXCEPTIONS, UNRESOLVED, request_route, status_class


def ok(request, **kwargs):
    return HttpResponse("ok")


def missing(request, pk):
    raise Http404("no such thing")


def broken(request):
    raise RuntimeError("boom")


def teapot(request):
    return HttpResponse(status=418)


async def async_ok(request):
    return HttpResponse("ok")


@require_POST
def post_only(request):
    return HttpResponse("posted")


inner = [path("things/<int:pk>/", ok), path("things/<int:pk>/missing/", missing)]
legacy = [re_path(r"^items/(?P<year>[0-9]{4})/$", ok)]
urlpatterns = [
    path("api/", include([path("v2/", include(inner))])),
    re_path(r"^old/", include(legacy)),
    path("plain/", ok),
    path("post-only/", post_only),
    path("broken/", broken),
    path("teapot/", teapot),
    path("async/", async_ok),
    path("static/app.css", ok),
    path("health/", ok),
]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def recorded() -> tuple[list[dict], dict]:
    """What the middleware put in the registry since the last call: the duration observations'
    labels (with the value) and the exception counts per label set."""
    counts, _, observations, _ = REGISTRY.take()
    durations = [
        {**json.loads(labels), "seconds": value}
        for (name, labels, _, _), value, _ in observations
        if name == REQUEST_DURATION
    ]
    raised = {labels: amount for (name, labels, _, _), amount in counts.items() if name == REQUEST_EXCEPTIONS}
    return durations, raised


def only(durations: list[dict]) -> dict:
    assert len(durations) == 1, durations
    found = dict(durations[0])
    assert 0 <= found.pop("seconds") < 5
    return found


@pytest.mark.parametrize(
    ("url", "route"),
    [
        ("/plain/", "/plain/"),
        ("/api/v2/things/7/", "/api/v2/things/<int:pk>/"),
        ("/old/items/2024/", "/old/items/(?P<year>[0-9]{4})/"),
    ],
)
def test_it_records_the_route_pattern_not_the_path(client, url, route):
    assert client.get(url).status_code == 200
    assert only(recorded()[0]) == {"method": "GET", "route": route, "status_class": "2xx"}


def test_paths_that_match_no_pattern_share_one_route(client):
    for url in ("/nope/", "/wp-login.php", "/api/v2/things/abc/"):
        assert client.get(url).status_code == 404
    durations, _ = recorded()
    assert {d["route"] for d in durations} == {UNRESOLVED}
    assert {d["status_class"] for d in durations} == {"4xx"}


def test_a_404_from_a_resolved_view_keeps_its_route(client):
    assert client.get("/api/v2/things/3/missing/").status_code == 404
    assert only(recorded()[0])["route"] == "/api/v2/things/<int:pk>/missing/"


def test_a_405_keeps_its_route(client):
    assert client.get("/post-only/").status_code == 405
    assert only(recorded()[0]) == {"method": "GET", "route": "/post-only/", "status_class": "4xx"}
    assert client.post("/post-only/").status_code == 200
    assert only(recorded()[0])["method"] == "POST"


@pytest.mark.parametrize(("status", "klass"), [(101, "1xx"), (204, "2xx"), (302, "3xx"), (418, "4xx"), (503, "5xx")])
def test_status_classes(status, klass):
    assert status_class(status) == klass


def test_unusual_status_codes_stay_in_the_five_classes():
    assert status_class(99) == "1xx" and status_class(600) == "5xx"


def test_the_status_class_comes_from_the_response(client):
    assert client.get("/teapot/").status_code == 418
    assert only(recorded()[0])["status_class"] == "4xx"


def test_an_unknown_method_is_one_label_value(client):
    client.generic("PROPFIND", "/plain/")
    assert only(recorded()[0])["method"] == "OTHER"


def test_an_exception_propagates_and_is_recorded_once():
    with pytest.raises(RuntimeError, match="boom"):
        Client().get("/broken/")
    durations, raised = recorded()
    assert only(durations) == {"method": "GET", "route": "/broken/", "status_class": "5xx"}
    assert raised == {json.dumps({"method": "GET", "route": "/broken/"}, separators=(",", ":")): 1}


def test_an_exception_answered_with_500_is_recorded_once():
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    durations, raised = recorded()
    assert only(durations)["status_class"] == "5xx"
    assert list(raised.values()) == [1]


def test_an_exception_propagated_past_the_handler_is_recorded_once(settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    with pytest.raises(RuntimeError):
        Client(raise_request_exception=False).get("/broken/")
    durations, raised = recorded()
    assert only(durations)["status_class"] == "5xx"
    assert list(raised.values()) == [1]


def test_a_404_is_not_counted_as_raised(client):
    client.get("/api/v2/things/3/missing/")
    assert recorded()[1] == {}


def test_excluded_prefixes_are_not_recorded(client):
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/health/").status_code == 200
    assert recorded()[0] == []


def test_exclusions_come_from_the_setting(settings):
    settings.REQUESTS_METRICS_EXCLUDE = ["/plain/"]
    client = Client()
    client.get("/plain/")
    client.get("/health/")
    assert [d["route"] for d in recorded()[0]] == ["/health/"]


def test_disabled_records_nothing(settings):
    settings.REQUESTS_METRICS_ENABLED = False
    Client().get("/plain/")
    assert recorded()[0] == []


def test_sampling_records_that_share_of_requests(settings):
    settings.REQUESTS_METRICS_SAMPLE_RATE = 0.25
    random.seed(11)
    client = Client()
    for _ in range(400):
        client.get("/plain/")
    assert 60 <= len(recorded()[0]) <= 140


def test_a_zero_sample_rate_records_nothing(settings):
    settings.REQUESTS_METRICS_SAMPLE_RATE = 0.0
    client = Client()
    for _ in range(20):
        client.get("/plain/")
    assert recorded()[0] == []


def test_a_recording_failure_never_breaks_a_request_and_is_logged_once(client, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise OSError("registry unavailable")

    monkeypatch.setattr(REGISTRY, "observe", fail)
    with caplog.at_level(logging.ERROR, logger="monitoring.requests"):
        for _ in range(5):
            assert client.get("/plain/").content == b"ok"
        with pytest.raises(RuntimeError, match="boom"):  # the view's own error, not the recorder's
            client.get("/broken/")
    assert len([r for r in caplog.records if "not recorded" in r.message]) == 1


def test_failures_are_logged_again_after_many(monkeypatch, caplog):
    monkeypatch.setattr(request_metrics, "LOG_EVERY", 3)
    monkeypatch.setattr(REGISTRY, "observe", lambda *a, **k: 1 / 0)
    client = Client()
    with caplog.at_level(logging.ERROR, logger="monitoring.requests"):
        for _ in range(7):
            client.get("/plain/")
    assert len(caplog.records) == 3  # failures 1, 4 and 7


def test_async_views_are_recorded_through_an_async_chain(settings):
    settings.MIDDLEWARE = ["monitoring.requests.RequestMetricsMiddleware"]
    response = async_to_sync(AsyncClient().get)("/async/")
    assert response.status_code == 200
    assert only(recorded()[0]) == {"method": "GET", "route": "/async/", "status_class": "2xx"}


def test_an_early_answer_from_middleware_keeps_its_route():
    # e.g. a 413 from the body limit, given before the URL was resolved
    request = RequestFactory().post("/api/v2/things/5/")
    assert request_route(request, 413) == "/api/v2/things/<int:pk>/"
    assert request_route(RequestFactory().get("/nope/"), 503) == UNRESOLVED


def test_early_answers_on_different_paths_keep_their_own_routes():
    # The per-request cache is keyed by the match; without one, the path decides the route.
    middleware = request_metrics.RequestMetricsMiddleware(lambda request: HttpResponse(status=413))
    for url in ("/api/v2/things/5/", "/plain/", "/api/v2/things/6/"):
        middleware(RequestFactory().post(url))
    assert [d["route"] for d in recorded()[0]] == ["/api/v2/things/<int:pk>/", "/plain/", "/api/v2/things/<int:pk>/"]


def test_recording_goes_on_when_the_series_cache_is_full(client, monkeypatch):
    monkeypatch.setattr(request_metrics, "MAX_CACHED_SERIES", 0)
    client.get("/plain/")
    client.get("/api/v2/things/1/")
    assert [d["route"] for d in recorded()[0]] == ["/plain/", "/api/v2/things/<int:pk>/"]
