"""Quality gate evaluation: thresholds in, pass/fail with reasons out."""

from dataclasses import dataclass

from codehealth.analyzer.debt import SEVERITY_RANK


@dataclass(frozen=True)
class GateRules:
    max_new_debt: int | None = 0  # new items at or above new_debt_severity
    new_debt_severity: str = "high"
    min_average_mi: float | None = None
    max_function_complexity: int | None = None
    min_pylint_score: float | None = None


@dataclass(frozen=True)
class GateInput:
    new_debt_by_severity: dict[str, int]
    average_mi: float | None
    worst_complexity: int
    pylint_score: float | None
    baseline: bool = False  # first scan of a repository: nothing is "new" yet


def gate_evaluate(rules: GateRules, facts: GateInput) -> tuple[bool, list[str]]:
    """(passed, reasons). Reasons list every failed condition, or say why a condition was skipped."""
    reasons: list[str] = []
    failed = False
    if rules.max_new_debt is not None:
        floor = SEVERITY_RANK[rules.new_debt_severity]
        new = sum(n for sev, n in facts.new_debt_by_severity.items() if SEVERITY_RANK[sev] >= floor)
        if facts.baseline:
            reasons.append("baseline scan: new-debt condition not applied")
        elif new > rules.max_new_debt:
            failed = True
            reasons.append(
                f"{new} new debt items of severity {rules.new_debt_severity} or worse (max {rules.max_new_debt})"
            )
    if rules.min_average_mi is not None and facts.average_mi is not None and facts.average_mi < rules.min_average_mi:
        failed = True
        reasons.append(f"average maintainability index {facts.average_mi:.1f} is below {rules.min_average_mi:g}")
    if rules.max_function_complexity is not None and facts.worst_complexity > rules.max_function_complexity:
        failed = True
        reasons.append(f"worst cyclomatic complexity {facts.worst_complexity} is above {rules.max_function_complexity}")
    if rules.min_pylint_score is not None:
        if facts.pylint_score is None:
            reasons.append("pylint did not run: pylint condition not applied")
        elif facts.pylint_score < rules.min_pylint_score:
            failed = True
            reasons.append(f"pylint score {facts.pylint_score:.2f} is below {rules.min_pylint_score:g}")
    return not failed, reasons
