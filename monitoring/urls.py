from django.urls import path

from monitoring import charts, check_pages, endpoint_pages, views
from monitoring.alerting import budget_pages

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("services/<slug:slug>/", views.service_detail, name="service"),
    path("charts/<slug:slug>/<str:name>/", charts.MetricChart.as_view(), name="metric-chart"),
    path("endpoints/", endpoint_pages.endpoints, name="endpoints"),
    path("endpoints/<slug:slug>/endpoint/", endpoint_pages.endpoint_detail, name="endpoint"),
    path("endpoints/<slug:slug>/chart.json", endpoint_pages.EndpointChart.as_view(), name="endpoint-chart"),
    path("budgets/", budget_pages.budget_list, name="budgets"),
    path("health/", views.health, name="health"),
    path("health/new/", check_pages.check_create, name="health-new"),
    path("health/<int:pk>/edit/", check_pages.check_edit, name="health-edit"),
    path("health/<int:pk>/", views.health_detail, name="health-detail"),
    path("health/<int:pk>/latency.json", charts.HealthLatencyChart.as_view(), name="health-latency-chart"),
]
