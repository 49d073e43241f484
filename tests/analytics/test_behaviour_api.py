"""/api/v1/analytics/{paths,next-steps,funnels,retention}/: who may read, exact figures, bad parameters."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.models import UsageEvent
from analytics.models_behaviour import BehaviourResult
from tests.analytics.test_behaviour_core import FUNNEL_EVENTS, PATH_EVENTS

pytestmark = pytest.mark.django_db
ENDPOINTS = ["paths", "next-steps", "funnels", "retention"]
# Yesterday 10:00 UTC: inside the default windows (whole days up to today's midnight UTC).
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=14)


def url(endpoint: str, **params) -> str:
    query = {"service": "checkout", **({"step": ["A", "B", "C"]} if endpoint == "funnels" else {}), **params}
    parts = []
    for key, value in query.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append(f"{key}={one}")
    return f"/api/v1/analytics/{endpoint}/?" + "&".join(parts)


@pytest.fixture
def events(service):
    rows = PATH_EVENTS + [(f"f-{u}", u, t + 1000, n) for u, t, n in FUNNEL_EVENTS]
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(service=service, session_id=s, user_id=u, time=START + timedelta(seconds=t), name=n)
            for s, u, t, n in rows
        ]
    )


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("anonymous", 401), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200), ("other_key", 403)],
)
def test_role_matrix(api_client, events, actor, expected):
    client = api_client(actor)
    assert {e: client.get(url(e)).status_code for e in ENDPOINTS} == dict.fromkeys(ENDPOINTS, expected)


def test_the_services_own_key_cannot_read_it_either(key_client, events):
    assert {e: key_client.get(url(e)).status_code for e in ENDPOINTS} == dict.fromkeys(ENDPOINTS, 403)


def test_paths_with_their_numbers_then_from_the_stored_result(api_client, events):
    client = api_client("viewer")
    first = client.get(url("paths", days=1, length=2, top=2)).json()
    assert first["source"] == "live" and first["summary"]["sessions"] == 9  # 4 path + 5 funnel sessions
    assert [(p["steps"], p["sessions"], p["support"]) for p in first["paths"]] == [
        (["A", "B"], 4, 0.444444), (["B", "C"], 4, 0.444444)  # s1, s2, f-u1, f-u2 / s1, s4, f-u1, f-u3
    ]  # fmt: skip
    assert first["until"] == (START + timedelta(hours=14)).isoformat().replace("+00:00", "Z")
    again = client.get(url("paths", days=1, length=2, top=2)).json()
    assert again["source"] == "stored" and again["paths"] == first["paths"]
    assert BehaviourResult.objects.filter(kind="paths").count() == 1


def test_next_steps_from_one_feature(api_client, events):
    since, until = START.isoformat().replace("+00:00", "Z"), (START + timedelta(seconds=500)).isoformat()
    body = api_client("viewer").get(url("next-steps", feature="A", since=since, until=until.replace("+00:00", "Z")))
    assert body.status_code == 200, body.content
    assert body.json()["next_steps"] == {
        "A": {
            "uses": 3,
            "sessions": 3,
            "outcomes": [
                {"step": "B", "count": 2, "probability": 0.666667, "within": 2},
                {"step": "C", "count": 1, "probability": 0.333333, "within": 1},
            ],
        }
    }


def test_funnel_steps_from_query_parameters(api_client, events):
    body = api_client("viewer").get(url("funnels", window=100, days=1)).json()
    # Users u1..u4 have both path and funnel events: u1 converts (A 0 s, B 10 s, C 100 s), u2 and
    # u4 reach B, u3 and u5 only A.
    assert [s["actors"] for s in body["steps"]] == [5, 3, 1]
    assert body["params"]["steps"] == ["A", "B", "C"] and body["window_seconds"] == 100


def test_retention_cohorts(api_client, service):
    monday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday() + 14)
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(service=service, user_id=u, time=monday + timedelta(days=d), name="A")
            for u, d in [("u1", 0), ("u1", 8), ("u2", 1), ("u3", 9)]
        ]
    )
    body = api_client("viewer").get(url("retention", weeks=3)).json()
    assert [c["retained"] for c in body["cohorts"]] == [[2, 1, 0], [1, 0], [0]]
    assert body["cohorts"][0]["week_start"] == monday.date().isoformat()


@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [
        ("paths", {"service": "nope"}, "service"),
        ("paths", {"days": 91}, "days"),
        ("paths", {"days": 0}, "days"),
        ("paths", {"length": 6}, "length"),
        ("paths", {"top": 201}, "top"),
        ("paths", {"within": 0}, "within"),
        ("paths", {"timeout": 59}, "timeout"),
        ("paths", {"kind": "bogus"}, "kind"),
        ("paths", {"since": "2026-11-01T00:00:00Z"}, "until"),
        ("paths", {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "since"),
        ("paths", {"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ("paths", {"until": "9999-12-31T23:59:59Z", "since": "2026-01-01T00:00:00Z"}, "until"),
        ("next-steps", {"feature": ""}, "feature"),
        ("next-steps", {"feature": "x" * 201}, "feature"),
        ("funnels", {"step": ["A"]}, "step"),
        ("funnels", {"step": [f"s{i}" for i in range(11)]}, "step"),
        ("funnels", {"window": 0}, "window"),
        ("funnels", {"window": 90 * 86400 + 1}, "window"),
        ("funnels", {"step": ["a%00", "b"]}, "step"),  # a NUL would fail the query on PostgreSQL
        ("next-steps", {"feature": "a%00"}, "feature"),
        ("retention", {"start_event": "%00"}, "start_event"),
        ("retention", {"weeks": 53}, "weeks"),
        ("retention", {"since": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api_client, service, endpoint, params, field):
    response = api_client("viewer").get(url(endpoint, **params))
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_funnel_needs_its_steps(api_client, events):
    response = api_client("viewer").get("/api/v1/analytics/funnels/?service=checkout")
    assert response.status_code == 400 and "step" in response.json()


def test_too_large_a_question_without_a_stored_result_is_400_naming_the_range(api_client, events, settings):
    settings.ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS = 5
    response = api_client("viewer").get(url("paths"))
    assert response.status_code == 400
    assert "ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS" in response.json()["days"][0]
    custom = api_client("viewer").get(url("paths", since="2026-01-01T00:00:00Z", until="2026-12-31T00:00:00Z"))
    assert custom.status_code == 400 and "since" in custom.json()


def test_the_schema_documents_the_endpoints(api_client):
    schema = api_client("viewer").get("/api/schema/?format=json").json()
    for endpoint in ENDPOINTS:
        operation = schema["paths"][f"/api/v1/analytics/{endpoint}/"]["get"]
        assert "service" in {p["name"] for p in operation["parameters"]}
    funnel = schema["paths"]["/api/v1/analytics/funnels/"]["get"]
    step = next(p for p in funnel["parameters"] if p["name"] == "step")
    assert step["schema"]["maxItems"] == 10 and step["required"] is True
