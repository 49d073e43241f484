from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [
        ("Reports", "reporting:operations"),
        ("Digests", "reporting:subscriptions"),
        ("Hotspots", "reporting:hotspots"),
    ]
    # Permissions ("app.codename") the operator role gets in addition to viewing.
    operator_permissions: tuple[str, ...] = ()
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = None
