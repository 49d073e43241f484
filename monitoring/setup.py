"""Defaults installed by `manage.py portal_setup` (AppConfig.setup_hook). Idempotent."""

from monitoring.collectors import collect_run
from monitoring.hosts import local_host_service, portal_service
from monitoring.models import CheckKind, HealthCheck

DEFAULT_CHECKS = [
    {"name": "Portal database", "kind": CheckKind.DATABASE, "critical": True, "config": {"degraded_ms": 500}},
    {
        "name": "Host resources",
        "kind": CheckKind.SYSTEM,
        "critical": False,
        "config": {"cpu_percent": [85, 95], "memory_percent": [85, 95], "disk_percent": [85, 95], "disk_path": "/"},
    },
]


def monitoring_setup(*, stdout, demo: bool) -> None:
    host = local_host_service()
    portal = portal_service()
    stdout.write(f"monitoring: host service '{host.slug}', portal service '{portal.slug}'")
    for spec in DEFAULT_CHECKS:
        service = portal if spec["kind"] == CheckKind.DATABASE else host
        _, created = HealthCheck.objects.get_or_create(
            service=service, name=spec["name"], defaults={k: v for k, v in spec.items() if k != "name"}
        )
        stdout.write(f"health check {spec['name']}: {'created' if created else 'unchanged'}")
    if demo:
        _demo(stdout=stdout, host=host)


def _demo(*, stdout, host) -> None:
    """A heartbeat to try the ping URL with, and one round of host metrics so the pages have data."""
    check, created = HealthCheck.objects.get_or_create(
        service=host,
        name="Demo nightly job",
        defaults={"kind": CheckKind.HEARTBEAT, "cron": "0 3 * * *", "grace_seconds": 3600},
    )
    if created:
        stdout.write(f"demo heartbeat: curl -X POST <portal>{check.ping_path}")
    collect_run(window=0.2)
