import pytest
from django.core.checks import Warning

from portal.checks import base_url_is_https, scale_out_warnings


def test_liveness_answers_without_login(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_liveness_is_get_only(client):
    assert client.post("/health/live").status_code == 405


@pytest.mark.parametrize("url, warns", [("http://portal.example.com", True), ("https://portal.example.com", False)])
def test_w001_plain_http_base_url(settings, url, warns):
    settings.PORTAL_BASE_URL = url
    found = base_url_is_https(None)
    assert bool(found) is warns
    assert all(isinstance(w, Warning) and w.id == "portal.W001" for w in found)


def test_w002_redis_workers_with_sqlite():
    sqlite, postgres = "django.db.backends.sqlite3", "django.db.backends.postgresql"
    assert [w.id for w in scale_out_warnings(sqlite, {"redis": "redis://127.0.0.1:6379/0"})] == ["portal.W002"]
    assert scale_out_warnings(sqlite, {"orm": "default"}) == []
    assert scale_out_warnings(postgres, {"redis": "redis://127.0.0.1:6379/0"}) == []
