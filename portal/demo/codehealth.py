"""Code-health history for the demo: the last commits of the portal's own repository, scanned
at install so the trend charts have points before the workers run the queued live scan."""

from codehealth.history import history_run
from codehealth.models import CodeRepository, CodeScan
from codehealth.scanning import ScanError
from codehealth.setup import DEMO_REPOSITORY

HISTORY_COMMITS = 8


def codehealth_install(*, stdout, commits: int | None = None) -> None:
    """Scan the last `commits` (default HISTORY_COMMITS) commits of the demo repository once
    (idempotent). Unchanged files are analysed once for all commits; the queued scan reuses them."""
    commits = commits or HISTORY_COMMITS
    repository = CodeRepository.objects.filter(name=DEMO_REPOSITORY).first()
    if repository is None:
        return
    if CodeScan.objects.filter(repository=repository, trigger=CodeScan.Trigger.HISTORY).exists():
        stdout.write(f"demo code history of {DEMO_REPOSITORY}: unchanged")
        return
    try:
        scans = history_run(repository=repository, commits=commits)
    except ScanError as exc:  # e.g. installed from an archive, without .git
        stdout.write(f"demo code history skipped: {exc}")
        return
    stdout.write(f"demo code history of {DEMO_REPOSITORY}: {len(scans)} commits scanned")
