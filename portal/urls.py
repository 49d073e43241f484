from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring.integrations import otlp_views
from monitoring.integrations.receiver_views import AlertmanagerReceiverView, GrafanaReceiverView
from monitoring.vitals import VitalsBeacon
from portal import charts, views

handler403 = "portal.errorpages.permission_denied"

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page links; the icon is one SVG in static files.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("portal/favicon.svg")), name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/live", views.health_live, name="health-live"),
    path("charts/tasks-per-hour/", charts.TasksPerHourChart.as_view(), name="chart-tasks-per-hour"),
    path("charts/requests/", charts.DashboardRequestsChart.as_view(), name="chart-requests"),
    path("charts/error-events/", charts.DashboardErrorsChart.as_view(), name="chart-error-events"),
    path("admin/", admin.site.urls),
    # Browsers post page timings here with a public key (before the API include: no API auth).
    path("api/v1/vitals/", VitalsBeacon.as_view(), name="vitals-beacon"),
    # The Sentry SDKs post to <DSN path>/api/<project id>/envelope/ (and the older /store/).
    path("", include("monitoring.errors.sentry.urls")),
    # OpenTelemetry exporters post to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/metrics (a service key, no session).
    path("v1/metrics", otlp_views.metrics_export, name="otlp-metrics"),
    # Alertmanager and Grafana webhooks (before the API include: receiver tokens, own body limit).
    path("api/v1/integrations/alertmanager/", AlertmanagerReceiverView.as_view(), name="alertmanager-receiver"),
    path("api/v1/integrations/grafana/", GrafanaReceiverView.as_view(), name="grafana-receiver"),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    # Each app owns its pages; an app without pages yet has an empty urls module.
    path("monitoring/errors/", include("monitoring.errors.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("alerts/", include("monitoring.alerting.urls")),
    path("codehealth/", include("codehealth.urls")),
    path("analytics/", include("analytics.urls")),
    path("maintenance/", include("maintenance.urls")),
    path("reporting/", include("reporting.urls")),
    path("", include("monitoring.root_urls")),
]
