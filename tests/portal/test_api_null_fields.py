"""`null` (and values of the wrong shape) for list and object fields are a 400 naming the field.
A multipart `addresses=null` once reached the database as NULL in a NOT NULL column (a 500);
bodies are JSON now, and JSON's null is refused by each serializer the same way."""

import pytest

from codehealth.models import CodeRepository
from monitoring.alerting.models import AlertRule, Channel, Silence
from monitoring.models import HealthCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(tmp_path):
    from django.utils import timezone

    now = timezone.now()
    return {
        "channel": Channel.objects.create(name="ops mail", kind="email", addresses=["ops@example.com"]),
        "hook": Channel.objects.create(name="hook", kind="webhook", url="http://127.0.0.1:9/h"),
        "rule": AlertRule.objects.create(name="High latency", metric="http_latency_ms", threshold=100),
        "check": HealthCheck.objects.create(name="db", kind="database", timeout_seconds=2),
        "silence": Silence.objects.create(
            matchers=[{"label": "service", "op": "=", "value": "checkout"}],
            starts_at=now,
            ends_at=now + timezone.timedelta(hours=1),
            reason="deploy",
        ),
        "repository": CodeRepository.objects.create(name="sample", path=str(tmp_path)),
    }


FIELDS = [
    ("/api/v1/alert-channels/{channel}/", "addresses"),
    ("/api/v1/alert-channels/{hook}/", "addresses"),
    ("/api/v1/alert-rules/{rule}/", "matchers"),
    ("/api/v1/alert-rules/{rule}/", "labels"),
    ("/api/v1/health-checks/{check}/", "config"),
    ("/api/v1/silences/{silence}/", "matchers"),
    ("/api/v1/codehealth/repositories/{repository}/", "excludes"),
    ("/api/v1/codehealth/repositories/{repository}/", "thresholds"),
]


def url_for(template: str, objects) -> str:
    name = template.split("{")[1].split("}")[0]
    return template.replace("{" + name + "}", str(objects[name].pk))


@pytest.mark.parametrize(("template", "field"), FIELDS)
def test_null_is_400_naming_the_field(api_client, objects, template, field):
    response = api_client("admin").patch(url_for(template, objects), {field: None}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(("template", "field"), FIELDS)
@pytest.mark.parametrize("value", ["null", 5, True, "ops@example.com"])
def test_a_value_of_the_wrong_shape_is_400_naming_the_field(api_client, objects, template, field, value):
    response = api_client("admin").patch(url_for(template, objects), {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    ("template", "field", "value"),
    [
        ("/api/v1/alert-channels/{channel}/", "addresses", [None]),
        ("/api/v1/alert-channels/{channel}/", "addresses", [5]),
        ("/api/v1/alert-channels/{channel}/", "addresses", [{"a": 1}]),
        ("/api/v1/alert-channels/{channel}/", "addresses", {"a": "b@example.com"}),
        ("/api/v1/alert-rules/{rule}/", "matchers", [None]),
        ("/api/v1/alert-rules/{rule}/", "labels", {"team": None}),
        ("/api/v1/alert-rules/{rule}/", "labels", ["team"]),
        ("/api/v1/silences/{silence}/", "matchers", [None]),
        ("/api/v1/codehealth/repositories/{repository}/", "excludes", [None]),
    ],
)
def test_null_or_wrong_items_inside_are_400_naming_the_field(api_client, objects, template, field, value):
    response = api_client("admin").patch(url_for(template, objects), {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_channel_keeps_its_addresses_after_a_refused_null(api_client, objects):
    channel = objects["channel"]
    api_client("admin").patch(f"/api/v1/alert-channels/{channel.pk}/", {"addresses": None}, format="json")
    channel.refresh_from_db()
    assert channel.addresses == ["ops@example.com"]


def test_valid_lists_are_still_saved(api_client, objects):
    channel = objects["channel"]
    body = {"addresses": ["a@example.com", "b@example.com"]}
    response = api_client("admin").patch(f"/api/v1/alert-channels/{channel.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    channel.refresh_from_db()
    assert channel.addresses == ["a@example.com", "b@example.com"]


def test_a_multipart_null_no_longer_reaches_the_database(api_client, objects):
    channel = objects["channel"]
    response = api_client("admin").patch(
        f"/api/v1/alert-channels/{channel.pk}/", {"addresses": "null"}, format="multipart"
    )
    assert response.status_code == 415
    channel.refresh_from_db()
    assert channel.addresses == ["ops@example.com"]


def test_the_schema_gives_these_fields_their_shape_and_no_null():
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    for component, field, kind in [
        ("PatchedChannelRequest", "addresses", "array"),
        ("PatchedAlertRuleRequest", "matchers", "array"),
        ("PatchedAlertRuleRequest", "labels", "object"),
        ("PatchedHealthCheckRequest", "config", "object"),
        ("PatchedSilenceRequest", "matchers", "array"),
    ]:
        schema = components[component]["properties"][field]
        assert schema.get("type") == kind and not schema.get("nullable"), (component, field, schema)
    labels = components["PatchedAlertRuleRequest"]["properties"]["labels"]
    assert labels["additionalProperties"] == {"type": "string"}
