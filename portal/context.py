"""Template context shared by every page."""

from django.apps import apps
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from portal.roles import has_role, user_role


def _required_role(url: str) -> str | None:
    """The role the page's view asks for (set by portal.access.role_required), if any."""
    try:
        return getattr(resolve(url).func, "required_role", None)
    except Resolver404:
        return None


def nav_links(user=None) -> list[tuple[str, str]]:
    """(label, url) for every app page that exists and that `user` may open. Apps declare
    `nav = [(label, url name)]` on their AppConfig; a link appears as soon as its URL is routed,
    to the people whose role its view accepts."""
    links = []
    for config in apps.get_app_configs():
        for label, url_name in getattr(config, "nav", ()):
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            role = _required_role(url)
            if role is None or (user is not None and has_role(user, role)):
                links.append((label, url))
    return links


def navigation(request):
    user = getattr(request, "user", None)
    return {"nav_links": nav_links(user), "portal_role": user_role(user)}
