from django.urls import path

from codehealth import charts, views

app_name = "codehealth"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.repository_overview, name="repository"),
    path("<int:pk>/scan/", views.scan_now, name="scan-now"),
    path("<int:pk>/scans/<int:scan_pk>/status/", views.scan_status, name="scan-status"),
    path("<int:pk>/debt/", views.debt_list, name="debt"),
    path("<int:pk>/imports/", views.imports_page, name="imports"),
    path("<int:pk>/files/<int:file_pk>/", views.file_detail, name="file"),
    path("<int:pk>/chart/<str:series>/", charts.TrendChart.as_view(), name="chart"),
]
