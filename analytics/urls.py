from django.urls import path

from analytics import charts, views
from analytics.behaviour import views as behaviour_views

app_name = "analytics"
urlpatterns: list = [
    path("", views.features, name="features"),
    # Feature names may hold slashes: the name is the rest of the path.
    path("charts/calls/<path:name>", charts.FeatureChart.as_view(kind="calls"), name="chart-calls"),
    path("charts/p95/<path:name>", charts.FeatureChart.as_view(kind="p95"), name="chart-p95"),
    path("features/<path:name>/", views.feature, name="feature"),
    path("paths/", behaviour_views.paths_page, name="behaviour-paths"),
    path("funnels/", behaviour_views.funnels_page, name="behaviour-funnels"),
    path("retention/", behaviour_views.retention_page, name="behaviour-retention"),
]
