app_name = "maintenance"
urlpatterns: list = []  # pages come with the maintenance issue
