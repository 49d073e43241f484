"""django-q2 entry points of analytics (performance side): safe to rerun."""

from analytics.rollups import prune_run, rollup_run


def rollup_hours() -> dict:
    """Fold newly stored events into hour rollups (bounded per run; the next run goes on)."""
    return rollup_run()


def prune() -> dict:
    return prune_run()
