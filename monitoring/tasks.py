"""django-q2 entry points of monitoring: each takes ids, loads fresh state and is safe to rerun."""

from monitoring.collectors import collect_run
from monitoring.healthchecks import runner
from monitoring.models import HealthCheck
from monitoring.rollups import prune_run, rollup_run


def rollup_minutes() -> dict:
    """Roll up the next window of minutes (and the hours it touches); loops while behind."""
    total = {"minutes": 0, "rows": 0}
    for _ in range(10):  # bounded: catching up after downtime spreads over several runs
        done = rollup_run()
        total["minutes"] += done["minutes"]
        total["rows"] += done["rows"]
        if done["minutes"] == 0:
            break
    return total


def prune() -> dict:
    return prune_run()


def collect_system() -> dict:
    return collect_run()


def health_sweep() -> dict:
    return runner.health_sweep()


def health_check_run(check_id: int) -> str | None:
    check = HealthCheck.objects.select_related("service").filter(pk=check_id, enabled=True).first()
    if check is None:
        return None  # deleted or disabled since it was queued
    return runner.health_check_run(check=check).status
