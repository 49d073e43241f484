"""Defaults installed by `manage.py portal_setup` (idempotent)."""

from codehealth.gates import DEFAULT_GATE, DEFAULT_GATE_FIELDS
from codehealth.models import QualityGate


def codehealth_setup(*, stdout, demo: bool = False) -> None:
    _, created = QualityGate.objects.get_or_create(name=DEFAULT_GATE, defaults=DEFAULT_GATE_FIELDS)
    stdout.write(f"quality gate {DEFAULT_GATE}: {'created' if created else 'unchanged'}")
