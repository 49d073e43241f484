"""django-q2 entry points. They take ids, load fresh state and are safe to run twice."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from codehealth.models import CodeRepository, CodeScan
from codehealth.scanning import IN_PROGRESS, scan_create, scan_run, scans_abandoned_fail


def scan_repository(scan_id: int) -> str:
    """Run one queued scan. A scan that is no longer queued (already ran) is left alone."""
    scan = CodeScan.objects.select_related("repository").filter(pk=scan_id).first()
    if scan is None or scan.status != CodeScan.Status.QUEUED:
        return "skipped"
    return scan_run(scan=scan).status


def scan_queue(*, repository: CodeRepository, trigger: str, now: datetime | None = None) -> tuple[CodeScan, bool]:
    """The repository's scan in progress (queued or running), or else a new queued scan handed to
    the workers once the row is committed; `created` says which. A second scan would only fail
    ("another scan of this repository is running") or repeat the first."""
    now = now or timezone.now()
    with transaction.atomic():
        # Two "scan now"s at once: the row lock makes the second see the first one's scan.
        CodeRepository.objects.select_for_update().filter(pk=repository.pk).first()
        scans_abandoned_fail(repository_id=repository.pk, now=now)
        current = (
            CodeScan.objects.filter(repository=repository, status__in=IN_PROGRESS)
            .select_related("repository")
            .order_by("-id")  # the one the overview page shows
            .first()
        )
        if current is not None:
            return current, False
        scan = scan_create(repository=repository, trigger=trigger, now=now)
        # A scan (pylint alone may take CODEHEALTH_PYLINT_TIMEOUT) outlasts the cluster's task timeout;
        # killed there, it would stay "running" and block its repository until found abandoned.
        transaction.on_commit(
            lambda: async_task(
                "codehealth.tasks.scan_repository", scan.pk, q_options={"timeout": settings.CODEHEALTH_SCAN_TIMEOUT}
            )
        )
        return scan, True


def scan_due(now: datetime | None = None) -> int:
    """Queue a scan for each repository whose next_scan_at has come (unless one is still queued
    or running); returns how many were queued. The conditional UPDATE is the claim: two workers
    sweeping at once queue each repository once."""
    now = now or timezone.now()
    queued = 0
    due = CodeRepository.objects.filter(next_scan_at__lte=now, scan_every_hours__isnull=False)
    for repo in due.only("id", "next_scan_at", "scan_every_hours", "pylint_enabled"):  # all scan_create reads
        claimed = CodeRepository.objects.filter(pk=repo.pk, next_scan_at=repo.next_scan_at).update(
            next_scan_at=now + timedelta(hours=repo.scan_every_hours)
        )
        if claimed:
            _, created = scan_queue(repository=repo, trigger=CodeScan.Trigger.SCHEDULE, now=now)
            queued += created
    return queued
