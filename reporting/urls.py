from django.urls import path

from reporting import hotspots_views
from reporting import subscriptions_views as subs
from reporting import views_ops as ops
from reporting.benchmarks import views as bench

app_name = "reporting"
urlpatterns: list = [
    path("operations/", ops.operations_page, name="operations"),
    path("operations/chart/", ops.AlertsPerDayChart.as_view(), name="ops-chart"),
    path("trends/", ops.trends_page, name="trends"),
    path("trends/chart/", ops.TrendChart.as_view(), name="trends-chart"),
    path("subscriptions/", subs.subscription_list, name="subscriptions"),
    path("subscriptions/new/", subs.subscription_edit, name="subscription-new"),
    path("subscriptions/<int:pk>/", subs.subscription_edit, name="subscription-edit"),
    path("subscriptions/<int:pk>/delete/", subs.subscription_delete, name="subscription-delete"),
    path("subscriptions/<int:pk>/preview/", subs.subscription_preview, name="subscription-preview"),
    path("subscriptions/<int:pk>/send/", subs.subscription_send_now, name="subscription-send"),
    path("reports/", subs.report_list, name="reports"),
    path("reports/<int:pk>/", subs.report_detail, name="report-detail"),
    path("unsubscribe/<str:token>/", subs.unsubscribe, name="unsubscribe"),
    path("benchmarks/", bench.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>/", bench.benchmark_detail, name="benchmark"),
    path("benchmarks/<int:pk>/chart/", bench.BenchmarkChart.as_view(), name="benchmark-chart"),
    path("hotspots/", hotspots_views.hotspots_page, name="hotspots"),
]
