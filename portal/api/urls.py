from django.urls import include, path
from django.utils.module_loading import autodiscover_modules

from portal.api import services  # noqa: F401  (registers the portal's own viewsets)
from portal.api.router import router

# Every installed app with an `api` module registers its viewsets on the shared router.
autodiscover_modules("api")

urlpatterns = [path("", include(router.urls))]
