"""`{% vitals_script %}`: the portal's own pages report their web vitals (see monitoring.vitals).

Renders the web-vitals script and the reporter with the portal's key and the page's URL
pattern. No database query: the key is derived, the route comes from the resolved request.
"""

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

from monitoring.requests import UNRESOLVED
from monitoring.vitals import portal_public_key

register = template.Library()


def page_route(request) -> str:
    """The URL pattern of the page (`/alerts/<int:pk>/`), as the request metrics name it."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.route is None:
        return UNRESOLVED
    return "/" + match.route.lstrip("/")


@register.simple_tag(takes_context=True)
def vitals_script(context):
    request = context.get("request")
    if not settings.VITALS_ENABLED or request is None:
        return ""
    return format_html(
        '<script src="{}" defer></script>\n'
        '<script src="{}" defer data-key="{}" data-endpoint="{}" data-route="{}"></script>',
        static("vendor/web-vitals/web-vitals.iife.js"),
        static("monitoring/vitals.js"),
        portal_public_key(),
        reverse("vitals-beacon"),
        page_route(request),
    )
