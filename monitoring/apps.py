from django.apps import AppConfig
from django.conf import settings

from monitoring.metrics import REGISTRY


def _flusher_start() -> None:
    from monitoring.flusher import flusher_start  # on the first record: see ready()

    flusher_start()


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    # Pages in the top navigation: (label, url name). Shown once the URL exists.
    nav: list[tuple[str, str]] = [
        ("Monitoring", "monitoring:index"),
        ("Endpoints", "monitoring:endpoints"),
        ("Health", "monitoring:health"),
    ]
    # Permissions ("app.codename") the operator role gets in addition to viewing.
    operator_permissions: tuple[str, ...] = ("monitoring.run_healthcheck",)
    # Dotted path of function(*, stdout, demo) that portal_setup calls to install defaults (idempotent).
    setup_hook: str | None = "monitoring.setup.monitoring_setup"

    def ready(self):
        # The flusher starts on the first record, and is imported only then: it writes through
        # the ingest and query modules (numpy, ddsketch), which short commands never need.
        if settings.METRICS_FLUSH_ENABLED:
            REGISTRY.on_first_record = _flusher_start
        # Imported for its side effect: registering the system checks.
        from monitoring import system_checks  # noqa: F401
