"""Which gate applies to a repository, and recording its verdict on a scan."""

from collections import Counter

from codehealth.analyzer.gate import GateInput, gate_evaluate
from codehealth.models import CodeScan, QualityGate, Severity

DEFAULT_GATE = "default"
# Used when no gate named "default" exists yet: no new high/critical debt, no monster function.
DEFAULT_GATE_FIELDS = {
    "max_new_debt": 0,
    "new_debt_severity": Severity.HIGH,
    "min_average_mi": 20.0,
    "max_function_complexity": 50,
    "min_pylint_score": 5.0,
}


def gate_for(repository) -> QualityGate:
    if repository.gate_id:
        return repository.gate
    gate, _ = QualityGate.objects.get_or_create(name=DEFAULT_GATE, defaults=DEFAULT_GATE_FIELDS)
    return gate


def gate_apply(*, scan: CodeScan, new_by_severity: Counter, baseline: bool) -> bool:
    """Evaluate the repository's gate for a finished scan and store the verdict (not saved)."""
    gate = gate_for(scan.repository)
    passed, reasons = gate_evaluate(
        gate.rules(),
        GateInput(
            new_debt_by_severity=dict(new_by_severity),
            average_mi=scan.average_mi,
            worst_complexity=scan.worst_complexity,
            pylint_score=scan.pylint_score,
            baseline=baseline,
        ),
    )
    scan.gate = CodeScan.Gate.PASSED if passed else CodeScan.Gate.FAILED
    scan.gate_reasons = [f"gate {gate.name}", *reasons]
    return passed
