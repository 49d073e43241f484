"""Defaults installed by `manage.py portal_setup` (idempotent)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from codehealth.gates import DEFAULT_GATE, DEFAULT_GATE_FIELDS
from codehealth.models import CodeRepository, CodeScan, QualityGate
from codehealth.tasks import scan_queue

DEMO_REPOSITORY = "operations-portal"


def codehealth_setup(*, stdout, demo: bool = False) -> None:
    _, created = QualityGate.objects.get_or_create(name=DEFAULT_GATE, defaults=DEFAULT_GATE_FIELDS)
    stdout.write(f"quality gate {DEFAULT_GATE}: {'created' if created else 'unchanged'}")
    if demo:
        demo_repository_install(stdout=stdout)


def demo_repository_install(*, stdout, now=None) -> None:
    """The portal's own source as a first repository, scanned by the workers right away."""
    now = now or timezone.now()
    every = 24
    with transaction.atomic():
        repository, created = CodeRepository.objects.get_or_create(
            name=DEMO_REPOSITORY,
            defaults={
                "path": str(settings.BASE_DIR),
                "excludes": ["node_modules/*", "var/*"],
                "scan_every_hours": every,
                # The scan queued below is this period's: without this the sweep would find the new
                # repository due at once and queue a second scan, which fails as "already running".
                "next_scan_at": now + timedelta(hours=every),
            },
        )
        if created:
            scan_queue(repository=repository, trigger=CodeScan.Trigger.SCHEDULE, now=now)
    stdout.write(f"demo repository {DEMO_REPOSITORY}: {'created, scan queued' if created else 'unchanged'}")
