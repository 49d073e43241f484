"""URLs the portal serves at the site root (included by portal/urls.py without a prefix)."""

from django.urls import path

from monitoring import endpoints
from monitoring.models import PingKind

urlpatterns = [
    path("metrics", endpoints.metrics, name="prometheus-metrics"),
    path("health/", endpoints.health, name="health"),
    path("health/ready", endpoints.ready, name="health-ready"),
    path("ping/<uuid:uuid>", endpoints.ping, name="ping"),
    path("ping/<uuid:uuid>/start", endpoints.ping, {"kind": PingKind.START}, name="ping-start"),
    path("ping/<uuid:uuid>/fail", endpoints.ping, {"kind": PingKind.FAIL}, name="ping-fail"),
]
