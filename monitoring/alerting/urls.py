app_name = "alerting"
urlpatterns: list = []
