"""Code-health severities and their order are said once, in the framework-free analyzer."""

from codehealth import models
from codehealth.analyzer import debt, gate


def test_the_models_and_the_gate_rank_severities_by_the_analyzers_one_order():
    assert models.Severity.values == list(debt.SEVERITIES)
    assert models.SEVERITY_RANK is debt.SEVERITY_RANK is gate.SEVERITY_RANK
    assert sorted(debt.SEVERITIES, key=debt.SEVERITY_RANK.__getitem__) == [
        debt.LOW,
        debt.MEDIUM,
        debt.HIGH,
        debt.CRITICAL,
    ]
