"""The web-vitals beacon: keys, origins, CORS, validation, body limit, and what it stores."""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from monitoring.hosts import portal_service
from monitoring.models import BrowserKey, Metric, MetricSample
from monitoring.models.vitals import origin_normalize
from monitoring.vitals import MAX_BODY_BYTES, portal_public_key

SHOP = "https://shop.example.com"
URL = "/api/v1/vitals/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_key(service):
    return BrowserKey.objects.create(
        service=service, name="shop", allowed_origins=[SHOP + "/", "http://localhost:3000"]
    )


def beacon(client, key, body, *, origin=SHOP, content_type="text/plain;charset=UTF-8", query=True):
    url = f"{URL}?key={key}" if query else URL
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Origin": origin} if origin else {}
    return client.post(url, data=data, content_type=content_type, headers=headers)


GOOD = {
    "route": "/orders/<int:pk>/",
    "vitals": [
        {"name": "TTFB", "value": 120.5},
        {"name": "FCP", "value": 800},
        {"name": "LCP", "value": 1450.25, "rating": "good", "id": "v5-1"},
        {"name": "INP", "value": 64},
        {"name": "CLS", "value": 0.031},
    ],
}


def stored(service=None):
    samples = MetricSample.objects.filter(name="web_vitals")
    if service is not None:
        samples = samples.filter(service=service)
    return sorted((s.labels["vital"], s.labels["route"], s.value) for s in samples)


def test_it_stores_each_vital_in_the_web_vitals_histogram_of_the_keys_service(browser_key, service):
    response = beacon(Client(), browser_key.public_key, GOOD)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    route = "/orders/<int:pk>/"
    assert stored(service) == sorted(
        [("TTFB", route, 120.5), ("FCP", route, 800.0), ("LCP", route, 1450.25), ("INP", route, 64.0),
         ("CLS", route, 0.031)]
    )  # fmt: skip
    assert Metric.objects.get(name="web_vitals").kind == "histogram"


def test_it_reads_application_json_and_the_key_from_the_body(browser_key, service):
    body = {**GOOD, "key": browser_key.public_key}
    response = beacon(Client(), "", body, content_type="application/json", query=False)
    assert response.status_code == 204
    assert len(stored(service)) == 5


def test_origins_are_stored_normalised():
    assert origin_normalize("HTTPS://Shop.Example.com:443/") == SHOP
    assert origin_normalize("http://localhost:3000") == "http://localhost:3000"
    for bad in ("shop.example.com", "https://shop.example.com/path", "https://*.example.com", "ftp://x", "null"):
        with pytest.raises(ValueError):
            origin_normalize(bad)


@pytest.mark.parametrize(
    ("origin", "field"),
    [("https://evil.example.com", "Origin"), ("", "Origin"), ("null", "Origin"), ("http://shop.example.com", "Origin")],
)
def test_it_refuses_an_origin_the_key_does_not_list(browser_key, origin, field):
    response = beacon(Client(), browser_key.public_key, GOOD, origin=origin)
    assert response.status_code == 403
    assert field in response.json()
    assert "Access-Control-Allow-Origin" not in response
    assert stored() == []


@pytest.mark.parametrize("key", ["", "0" * 32, "not-a-key"])
def test_it_refuses_a_missing_or_unknown_key(browser_key, key):
    response = beacon(Client(), key, GOOD)
    assert response.status_code == (400 if key == "" else 403)
    assert "key" in response.json()
    assert stored() == []


def test_a_disabled_key_is_refused(browser_key):
    browser_key.enabled = False
    browser_key.save()
    assert beacon(Client(), browser_key.public_key, GOOD).status_code == 403


def test_another_services_key_writes_only_its_own_service(browser_key, service, other_service):
    other = BrowserKey.objects.create(service=other_service, allowed_origins=[SHOP])
    assert beacon(Client(), other.public_key, GOOD).status_code == 204
    assert stored(service) == []
    assert len(stored(other_service)) == 5


def test_the_portals_own_key_is_accepted_from_the_portal_only(db):
    client = Client()
    own = "http://testserver"
    assert beacon(client, portal_public_key(), GOOD, origin=own).status_code == 204
    assert len(stored(portal_service())) == 5
    assert beacon(client, portal_public_key(), GOOD, origin=SHOP).status_code == 403


def test_preflight_is_answered_for_allowed_origins_only(browser_key):
    client = Client()
    headers = {
        "Origin": SHOP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    response = client.options(f"{URL}?key={browser_key.public_key}", headers=headers)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    assert response["Access-Control-Allow-Credentials"] == "true"
    refused = client.options(f"{URL}?key={browser_key.public_key}", headers={**headers, "Origin": "https://evil.test"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    unknown = client.options(f"{URL}?key={'0' * 32}", headers=headers)
    assert unknown.status_code == 403 and "Access-Control-Allow-Origin" not in unknown


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        ([1, 2], "body"),
        ({"vitals": GOOD["vitals"]}, "route"),
        ({**GOOD, "route": "orders/1"}, "route"),
        ({**GOOD, "route": "/" + "a" * 200}, "route"),
        ({**GOOD, "route": "/a\nb"}, "route"),
        ({"route": "/"}, "vitals"),
        ({"route": "/", "vitals": []}, "vitals"),
        ({"route": "/", "vitals": [{"name": "FCP", "value": 1}] * 11}, "vitals"),
        ({"route": "/", "vitals": ["FCP"]}, "vitals[0]"),
        ({"route": "/", "vitals": [{"name": "FID", "value": 1}]}, "vitals[0].name"),
        ({"route": "/", "vitals": [{"name": "FCP", "value": "1"}]}, "vitals[0].value"),
        ({"route": "/", "vitals": [{"name": "FCP", "value": True}]}, "vitals[0].value"),
        ({"route": "/", "vitals": [{"name": "FCP", "value": -1}]}, "vitals[0].value"),
        ({"route": "/", "vitals": [{"name": "LCP", "value": 600_001}]}, "vitals[0].value"),
        ({"route": "/", "vitals": [{"name": "FCP", "value": 1}, {"name": "CLS", "value": 101}]}, "vitals[1].value"),
        (b'{"route": "/", "vitals": [{"name": "FCP", "value": NaN}]}', "vitals[0].value"),
        (b'{"route": "/", "vitals": [{"name": "FCP", "value": 1e999}]}', "vitals[0].value"),
    ],
)
def test_a_malformed_beacon_is_400_naming_the_field(browser_key, body, field):
    response = beacon(Client(), browser_key.public_key, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert stored() == []


def test_other_content_types_are_415(browser_key):
    response = beacon(Client(), browser_key.public_key, GOOD, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "Content-Type" in response.json()


def test_a_huge_body_is_413_before_it_is_read(browser_key):
    huge = json.dumps({**GOOD, "pad": "x" * (3 * 1024 * 1024)})  # over Django's own 2.5 MB limit too
    response = beacon(Client(), browser_key.public_key, huge)
    assert response.status_code == 413
    assert "body" in response.json()
    just_over = json.dumps({**GOOD, "pad": "x" * MAX_BODY_BYTES})
    assert beacon(Client(), browser_key.public_key, just_over).status_code == 413
    assert stored() == []


def test_one_beacon_costs_a_few_queries(browser_key, django_assert_max_num_queries):
    beacon(Client(), browser_key.public_key, GOOD)  # registers the metric name
    # The key, the metric kinds, one insert (COPY on PostgreSQL, plus its advisory lock) and the
    # rollup mark, in a savepoint pair.
    with django_assert_max_num_queries(7):
        assert beacon(Client(), browser_key.public_key, GOOD).status_code == 204


def test_portal_pages_include_the_reporter_with_the_route_pattern(page_client, users):
    response = page_client("viewer").get("/monitoring/health/")
    html = response.content.decode()
    assert "vendor/web-vitals/web-vitals.iife.js" in html
    assert f'data-key="{portal_public_key()}"' in html
    assert 'data-route="/monitoring/health/"' in html
    assert 'data-endpoint="/api/v1/vitals/"' in html


def test_the_reporter_is_left_out_when_vitals_are_disabled(page_client, users, settings):
    settings.VITALS_ENABLED = False
    html = page_client("viewer").get("/monitoring/health/").content.decode()
    assert "vitals.js" not in html


def test_beacons_are_limited_per_key_and_minute(browser_key, service, settings):
    settings.VITALS_RATE_PER_MINUTE = 2
    other = BrowserKey.objects.create(service=service, name="blog", allowed_origins=[SHOP])
    cache.clear()
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC), tick=False):
        assert [beacon(Client(), browser_key.public_key, GOOD).status_code for _ in range(2)] == [204, 204]
        refused = beacon(Client(), browser_key.public_key, GOOD)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "50"  # the rest of the UTC minute
        assert "2 beacons per minute" in refused.json()["key"][0]
        assert beacon(Client(), other.public_key, GOOD).status_code == 204  # another key has its own count
        # Refused beacons are not counted, and nothing of them is stored.
        assert len(stored(service)) == 15
    with time_machine.travel(datetime(2026, 3, 2, 12, 1, 0, tzinfo=UTC), tick=False):
        assert beacon(Client(), browser_key.public_key, GOOD).status_code == 204
    cache.clear()


def test_a_lone_surrogate_in_the_route_is_stored_as_the_replacement_character(browser_key, service):
    # json.dumps escapes it; Python decodes it into text no database driver can write (was a 500).
    response = beacon(Client(), browser_key.public_key, {**GOOD, "route": "/a\ud800/"})
    assert response.status_code == 204, response.content
    assert {route for _vital, route, _value in stored(service)} == {"/a\ufffd/"}
