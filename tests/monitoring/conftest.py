from datetime import UTC, datetime

import pytest

from monitoring import ingest
from monitoring.labels import labels_canonical, labels_hash
from tests.monitoring import custom_checks as custom_checks_module

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(service, name, value, time, **labels):
    canonical = labels_canonical(labels)
    return (service.pk, name, canonical, labels_hash(canonical), float(value), time)


@pytest.fixture
def put(db):
    """put(service, name, value, time, **labels): write one sample through the fast path."""

    def write(service, name, value, time, **labels):
        ingest.samples_write([row(service, name, value, time, **labels)])

    return write


@pytest.fixture
def custom_checks(settings):
    """The test callables, registered as a deployment would in HEALTH_CUSTOM_CHECKS."""
    settings.HEALTH_CUSTOM_CHECKS = dict(custom_checks_module.REGISTRY)
    return settings.HEALTH_CUSTOM_CHECKS
