"""Who may call an API view.

- People: reading needs the viewer role; writing needs `write_role` of the view (admin unless
  the view says otherwise), or the role named for the action in `action_roles`.
- Service keys: refused unless the view lists the action in `service_key_actions`; what a key
  may touch is then limited to its own service (see `service_for_key`).
"""

from rest_framework import exceptions, permissions

from portal.api.authentication import ServicePrincipal
from portal.roles import ADMIN, VIEWER, has_role


def is_service(request) -> bool:
    return isinstance(request.user, ServicePrincipal)


def required_role(request, view) -> str:
    action = getattr(view, "action", None)
    roles = getattr(view, "action_roles", {})
    if action in roles:
        return roles[action]
    if request.method in permissions.SAFE_METHODS:
        return VIEWER
    return getattr(view, "write_role", ADMIN)


class RolePermission(permissions.BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        if is_service(request):
            return getattr(view, "action", None) in getattr(view, "service_key_actions", ())
        return has_role(request.user, required_role(request, view))


def service_for_key(request, requested):
    """The service a key-authenticated write is for: the key's own, and no other."""
    own = request.user.service
    if requested is not None and requested != own:
        raise exceptions.PermissionDenied("service: this key may only write data of its own service.")
    return own
