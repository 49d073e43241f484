from django.urls import path

from monitoring.alerting import views

app_name = "alerting"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/comment/", views.alert_comment_view, name="comment"),
    path("<int:pk>/silence/", views.alert_silence_view, name="silence"),
    *[
        path(f"<int:pk>/{action}/", views.alert_transition, {"action": action}, name=action)
        for action in views.TRANSITIONS
    ],
    path("<int:pk>/ack/<str:token>/", views.ack_link, name="ack-link"),
    path("silences/", views.silence_list, name="silences"),
    path("silences/<int:pk>/expire/", views.silence_expire_view, name="silence-expire"),
]
