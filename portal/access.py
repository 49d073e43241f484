"""Role checks for page views (the API has portal.api.permissions.RolePermission)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from portal.roles import OPERATOR, VIEWER, has_role


class RoleRequired(PermissionDenied):
    """A 403 that knows which role was missing, so the error page can say whom to ask for what."""

    def __init__(self, role: str):
        self.role = role
        super().__init__(f"This page needs the {role} role.")


def role_required(role: str):
    """Anonymous people go to the login page; people without `role` get a 403. The role is
    also kept on the view (`required_role`), so navigation shows only pages a person may open."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, role):
                raise RoleRequired(role)
            return view(request, *args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorator


viewer_required = role_required(VIEWER)
operator_required = role_required(OPERATOR)
