"""The 403 page: which role the page needs, the role the person has, and whom to ask."""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import render

from portal.roles import ADMIN, user_role

SHOWN_ADMINS = 5


def portal_admins() -> list:
    """Active people who can grant roles (staff, superusers, the admin group), a few of them."""
    admins = get_user_model().objects.filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name=ADMIN))
    return list(admins.filter(is_active=True).distinct().order_by("last_name", "first_name", "username")[:SHOWN_ADMINS])


def permission_denied(request, exception=None):
    """settings' handler403. `portal.access.RoleRequired` names the missing role; any other
    PermissionDenied shows its own message."""
    user = getattr(request, "user", None)
    signed_in = bool(getattr(user, "is_authenticated", False))
    context = {
        "needed_role": getattr(exception, "role", ""),
        "reason": str(exception or "") or "You are not allowed to open this page.",
        "current_role": user_role(user),
        # Only people who are signed in learn who the admins are.
        "admins": portal_admins() if signed_in else [],
        "signed_in": signed_in,
    }
    return render(request, "403.html", context, status=403)
