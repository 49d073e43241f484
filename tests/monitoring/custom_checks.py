"""Callables for the `custom` health-check kind in tests, registered by the `custom_checks`
fixture (tests/monitoring/conftest.py) the way a deployment registers its own in settings."""

import time

from monitoring.healthchecks.custom import Param, check_params

REGISTRY = {
    "answers": "tests.monitoring.custom_checks.answers",
    "raises": "tests.monitoring.custom_checks.raises",
    "hangs": "tests.monitoring.custom_checks.hangs",
}


@check_params(
    status=Param(str, default="healthy", choices=("healthy", "degraded", "unhealthy")),
    message=Param(str, default="fine", max_length=100),
)
def answers(*, check, status, message):
    return status, message


def raises(*, check):
    raise RuntimeError("queue is wedged")


@check_params(seconds=Param(float, default=5, min=0, max=10), sleep=Param(bool, default=True))
def hangs(*, check, seconds, sleep):
    if sleep:
        time.sleep(seconds)
    return True
