"""Pages of the integrations app (none yet: targets are managed in the admin and the API)."""

app_name = "integrations"
urlpatterns: list = []
