from django.core.management.base import BaseCommand, CommandError

from monitoring import tasks

JOBS = {
    "rollup": tasks.rollup_minutes,
    "prune": tasks.prune,
    "collect": tasks.collect_system,
    "sweep": tasks.health_sweep,
}


class Command(BaseCommand):
    help = "Run monitoring jobs once, in this process (what the periodic schedules do)."

    def add_arguments(self, parser):
        parser.add_argument("jobs", nargs="*", help=f"any of {', '.join(JOBS)} (default: all)")

    def handle(self, *args, jobs=(), **options):
        unknown = sorted(set(jobs) - set(JOBS))
        if unknown:
            raise CommandError(f"unknown job(s) {', '.join(unknown)}; choose from {', '.join(JOBS)}")
        for name in jobs or JOBS:
            self.stdout.write(f"{name}: {JOBS[name]()}")
