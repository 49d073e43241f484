"""The three roles and what each may do.

Groups are created by a data migration; their permissions are (re)applied by
`sync_role_permissions`, run after every migrate and by `portal_setup`. Apps add operator
permissions in ONE place: the `operator_permissions` attribute of their AppConfig
(e.g. ``("monitoring.acknowledge_alert",)``), so nobody edits this module to grant a right.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}

# Apps whose data the portal roles cover (Django's own auth data is admin-only).
PORTAL_APPS = (
    "portal",
    "monitoring",
    "alerting",
    "errors",
    "codehealth",
    "analytics",
    "maintenance",
    "reporting",
    "django_q",
)


def user_role(user) -> str | None:
    """The highest role a user holds, or None. Admins are superusers and members of the `admin`
    group: pages, the API and the Django admin (portal.admin_site) all ask this, and `is_staff`
    merely follows it (portal.admin.PortalUserAdmin), so the three cannot disagree."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_portal_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = max((r for r in ROLES if r in names), key=RANK.__getitem__, default=None)
    user._portal_role = role
    return role


def staff_sync(*, user) -> None:
    """Make `is_staff` say what the admin rule says, for the admin's user list and any code that
    reads the flag. Called where roles are assigned (the user admin), not from a signal."""
    wanted = user.is_superuser or user.groups.filter(name=ADMIN).exists()
    if user.is_staff != wanted:
        type(user).objects.filter(pk=user.pk).update(is_staff=wanted)
        user.is_staff = wanted
    user.__dict__.pop("_portal_role", None)


def has_role(user, needed: str) -> bool:
    role = user_role(user)
    return role is not None and RANK[role] >= RANK[needed]


def operator_permission_codes() -> list[str]:
    codes: list[str] = []
    for config in apps.get_app_configs():
        codes.extend(getattr(config, "operator_permissions", ()))
    return codes


def _permissions(codes: list[str]) -> list[Permission]:
    wanted = {tuple(code.split(".", 1)) for code in codes}
    perms = Permission.objects.filter(content_type__app_label__in={a for a, _ in wanted}).select_related("content_type")
    return [p for p in perms if (p.content_type.app_label, p.codename) in wanted]


def sync_role_permissions() -> None:
    """Make the groups' permissions match the rules above. Idempotent."""
    portal_perms = Permission.objects.filter(content_type__app_label__in=PORTAL_APPS)
    view_perms = list(portal_perms.filter(codename__startswith="view_"))
    operator_perms = view_perms + _permissions(operator_permission_codes())
    groups = {g.name: g for g in Group.objects.filter(name__in=ROLES)}
    for name in ROLES:
        groups.setdefault(name, Group.objects.get_or_create(name=name)[0])
    groups[VIEWER].permissions.set(view_perms)
    groups[OPERATOR].permissions.set(operator_perms)
    groups[ADMIN].permissions.set(list(Permission.objects.all()))
