from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.module_loading import autodiscover_modules
from django.views.decorators.csrf import csrf_exempt

from portal.api import (
    services,  # noqa: F401  (registers the portal's own viewsets)
    strict,
)
from portal.api.router import router
from portal.api.tokens import token_view

# Here, with the URL conf, not in PortalConfig.ready: DRF's fields (and pygments, which they
# import) cost management commands such as `codehealth scan` ~0.1 s of start-up for nothing.
strict.install()  # JSON bodies read as typed: a 400 for "description": 0
# Every installed app with an `api` module registers its viewsets on the shared router.
autodiscover_modules("api")


@csrf_exempt  # it changes nothing; without this a POST got the CSRF failure page (HTML 403) instead
def not_found(request, *args, **kwargs):
    """Unknown API paths answer JSON like the rest of the API, not the HTML 404 page."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    # People exchange username + password for a token for scripts: `Authorization: Token <token>`.
    path("auth/token/", token_view, name="api-token"),
    path("", include(router.urls)),
    re_path(r"^.*$", not_found),
]
