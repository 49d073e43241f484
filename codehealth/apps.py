from django.apps import AppConfig


class CodehealthConfig(AppConfig):
    name = "codehealth"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [("Code health", "codehealth:index")]
    # Operators may start a scan ("scan now"); everything else is admin-only or read-only.
    operator_permissions: tuple[str, ...] = ("codehealth.scan_coderepository",)
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = "codehealth.setup.codehealth_setup"
