"""Periodic jobs, declared by each app and installed by `manage.py portal_setup`.

An app lists its jobs in `<app>/schedules.py` as ``SCHEDULES = [Periodic(...), ...]``.
django-q2 `Schedule` rows are keyed by name; `schedules_sync` creates missing ones and updates
changed ones, so running it twice changes nothing.
"""

from dataclasses import dataclass
from importlib import import_module

from django.apps import apps
from django_q.models import Schedule


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str  # dotted path: django-q2 imports it in the worker
    minutes: int | None = None
    cron: str | None = None

    def fields(self) -> dict:
        if (self.minutes is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name}: give exactly one of minutes or cron")
        if self.cron:
            return {"func": self.func, "schedule_type": Schedule.CRON, "cron": self.cron, "minutes": None}
        return {"func": self.func, "schedule_type": Schedule.MINUTES, "minutes": self.minutes, "cron": None}


def declared_schedules() -> list[Periodic]:
    found: list[Periodic] = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found.extend(getattr(module, "SCHEDULES", ()))
    names = [s.name for s in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate schedule names: {sorted(duplicates)}")
    return found


def schedules_sync(periodics: list[Periodic] | None = None) -> dict[str, str]:
    """Create or update each schedule; returns name -> 'created' | 'updated' | 'unchanged'."""
    outcome: dict[str, str] = {}
    for periodic in declared_schedules() if periodics is None else periodics:
        wanted = periodic.fields()
        row = Schedule.objects.filter(name=periodic.name).first()
        if row is None:
            Schedule.objects.create(name=periodic.name, repeats=-1, **wanted)
            outcome[periodic.name] = "created"
            continue
        changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
        if row.repeats != -1:
            changed["repeats"] = -1
        if changed:
            Schedule.objects.filter(pk=row.pk).update(**changed)
        outcome[periodic.name] = "updated" if changed else "unchanged"
    return outcome


# The portal's own job: a tiny task each minute, so the home page can tell whether workers run.
SCHEDULES = [Periodic(name="portal.worker_heartbeat", func="portal.tasks.ping", minutes=1)]
