from django.urls import path

from monitoring.errors import views

app_name = "errors"
urlpatterns = [
    path("", views.group_list, name="list"),
    path("<int:pk>/", views.group_detail, name="detail"),
    path("<int:pk>/merge/", views.group_merge_view, name="merge"),
    *[
        path(f"<int:pk>/{action}/", views.group_transition, {"action": action}, name=action)
        for action in views.TRANSITIONS
    ],
]
