from django.urls import path

from monitoring.alerting import rule_pages, views

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
    path("rules/", rule_pages.rule_list, name="rules"),
    path("rules/new/", rule_pages.rule_create, name="rule-new"),
    path("rules/<int:pk>/edit/", rule_pages.rule_edit, name="rule-edit"),
    path("rules/labels.json", rule_pages.rule_labels, name="rule-labels"),
    path("rules/preview.json", rule_pages.RulePreviewChart.as_view(), name="rule-preview"),
    path("silences/<int:pk>/expire/", views.silence_expire_view, name="silence-expire"),
]
