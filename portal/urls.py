from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import charts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/live", views.health_live, name="health-live"),
    path("charts/tasks-per-hour/", charts.TasksPerHourChart.as_view(), name="chart-tasks-per-hour"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    # Each app owns its pages; an app without pages yet has an empty urls module.
    path("monitoring/", include("monitoring.urls")),
    path("alerts/", include("monitoring.alerting.urls")),
    path("codehealth/", include("codehealth.urls")),
    path("analytics/", include("analytics.urls")),
    path("maintenance/", include("maintenance.urls")),
    path("reporting/", include("reporting.urls")),
    path("", include("monitoring.root_urls")),
]
