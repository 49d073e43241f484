"""Template context shared by every page."""

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from portal.roles import user_role


def nav_links() -> list[tuple[str, str]]:
    """(label, url) for every app page that exists. Apps declare `nav = [(label, url name)]`
    on their AppConfig; a link appears as soon as its URL is routed."""
    links = []
    for config in apps.get_app_configs():
        for label, url_name in getattr(config, "nav", ()):
            try:
                links.append((label, reverse(url_name)))
            except NoReverseMatch:
                continue
    return links


def navigation(request):
    return {"nav_links": nav_links(), "portal_role": user_role(getattr(request, "user", None))}
