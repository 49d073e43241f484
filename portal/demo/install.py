"""`portal_setup --demo`: the demo service with a week of believable history, and the
schedule that keeps it live. Each part is idempotent, so running it twice adds nothing."""

from datetime import datetime

import numpy as np
from django.utils import timezone

from portal.demo.alerts import alerts_install
from portal.demo.codehealth import codehealth_install
from portal.demo.health import checks_install
from portal.demo.metrics import history_exists, history_write
from portal.demo.service import DEMO_DESCRIPTION, DEMO_NAME, DEMO_SLUG
from portal.demo.traffic import Scenario
from portal.models import Service
from portal.schedules import Periodic, schedules_sync

# Not in portal/schedules.py: only a demo install has it. Delete the row to stop the samples.
LIVE_SCHEDULE = Periodic(name="demo.live_samples", func="portal.demo.tasks.live_samples", minutes=1)


def _said(counts: dict) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def demo_install(*, stdout, now: datetime | None = None, seed: int | None = None) -> Service:
    now = now or timezone.now()
    scenario = Scenario.around(now)
    rng = np.random.default_rng(seed)
    service, created = Service.objects.get_or_create(
        slug=DEMO_SLUG, defaults={"name": DEMO_NAME, "description": DEMO_DESCRIPTION}
    )
    stdout.write(f"demo service '{service.name}': {'created' if created else 'exists'}")
    if history_exists(service):
        stdout.write("demo metrics: unchanged")
    else:
        stdout.write(f"demo metrics: {_said(history_write(service=service, now=now, scenario=scenario, rng=rng))}")
    stdout.write(f"demo health checks: {_said(checks_install(service=service, now=now, scenario=scenario, rng=rng))}")
    stdout.write(f"demo alerting: {_said(alerts_install(service=service, now=now, scenario=scenario))}")
    codehealth_install(stdout=stdout)
    for name, outcome in schedules_sync([LIVE_SCHEDULE]).items():
        stdout.write(f"schedule {name}: {outcome}")
    return service
