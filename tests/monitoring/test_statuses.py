"""Health statuses and their order live in one module (monitoring/healthchecks/status.py)."""

import re

import pytest

from monitoring import prometheus
from monitoring.healthchecks import status
from monitoring.models import HealthStatus
from portal import overview
from tests.support import ROOT


def test_the_model_choices_and_metrics_values_come_from_the_one_list():
    assert HealthStatus.values == list(status.STATUSES)
    assert prometheus.STATUS_VALUE is status.RANK
    assert status.worst(status.HEALTHY, status.UNHEALTHY, status.DEGRADED) == status.UNHEALTHY
    assert status.worst() == status.HEALTHY


def test_the_overview_ranks_unknown_below_every_status_in_the_same_order():
    ranked = sorted(overview.RANK, key=overview.RANK.__getitem__)
    assert ranked == [overview.UNKNOWN, *status.STATUSES]


@pytest.mark.parametrize("name", ["healthy", "degraded", "unhealthy"])
def test_no_other_module_spells_a_status(name):
    spelt = []
    for path in [*ROOT.glob("monitoring/**/*.py"), *ROOT.glob("portal/**/*.py")]:
        if "migrations" in path.parts or path.name == "status.py":
            continue
        if re.search(rf"""(?<![\w-])["']{name}["']""", path.read_text()):
            spelt.append(str(path.relative_to(ROOT)))
    assert spelt == []
