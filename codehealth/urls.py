app_name = "codehealth"
urlpatterns: list = []
