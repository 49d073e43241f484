from django.urls import path

from maintenance import views

app_name = "maintenance"
urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/<int:pk>/run/", views.run_now, name="run-now"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/approve/", views.run_decide, {"decision": "approve"}, name="run-approve"),
    path("runs/<int:pk>/reject/", views.run_decide, {"decision": "reject"}, name="run-reject"),
    path("runs/<int:pk>/cancel/", views.run_cancel_page, name="run-cancel"),
    path("vulnerabilities/", views.vulnerabilities, name="vulnerabilities"),
]
