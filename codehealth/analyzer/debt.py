"""Technical debt found in one file report: markers in comments and structural problems.

Severity and remediation rules (documented in docs/codehealth.md):
- Structural kinds compare a value with its threshold (the largest acceptable value; for the
  maintainability index the smallest). ratio = value / threshold (threshold / value for MI):
  above 1 -> medium, from 2 -> high, from 3 -> critical.
- Remediation minutes per kind: a base plus a cost per unit over the threshold (REMEDIATION).
- Markers: severity and minutes per marker word (MARKERS).

The fingerprint is path + symbol + kind + normalized text, never the line number, so an item
keeps its identity when code moves; identical items in one symbol get an ordinal (#2, #3).
"""

import hashlib
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: models import this module, the analysis (radon) loads when used
    from codehealth.analyzer.source import FileReport

# Mildest first, said once: the model's choices, quality gates, debt escalation and the API's
# worst-first ordering all read this order.
LOW, MEDIUM, HIGH, CRITICAL = "low", "medium", "high", "critical"
SEVERITIES = (LOW, MEDIUM, HIGH, CRITICAL)
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES, start=1)}

# word -> (severity, remediation minutes)
MARKERS = {
    "FIXME": (MEDIUM, 30),
    "HACK": (MEDIUM, 30),
    "XXX": (MEDIUM, 20),
    "TODO": (LOW, 15),
    "TEMP": (LOW, 15),
    "NOTE": (LOW, 5),
}
# "TODO: text", "FIXME(alice): text", "XXX - text"; the word must be upper case (prose says "note").
_MARKER = re.compile(r"\b(" + "|".join(MARKERS) + r")\b(?:\([^)]*\))?[\s:\-]*(.*)")


@dataclass(frozen=True)
class Thresholds:
    """Largest acceptable values (smallest for the maintainability index)."""

    function_length: int = 60
    class_length: int = 400
    complexity: int = 10
    cognitive: int = 15
    nesting: int = 4
    parameters: int = 5
    maintainability: float = 20.0

    def __post_init__(self):
        # Severity is value / threshold: a zero threshold would divide by zero in every file.
        for name, value in asdict(self).items():
            if not (value >= 0 if name == "maintainability" else value > 0):
                raise ValueError(f"threshold {name!r} must be above 0, got {value!r}")

    @classmethod
    def from_mapping(cls, values: dict | None, base: "Thresholds | None" = None) -> "Thresholds":
        merged = asdict(base or cls())
        for key, value in (values or {}).items():
            if key not in merged:
                raise ValueError(f"unknown threshold {key!r}; known: {', '.join(sorted(merged))}")
            merged[key] = type(merged[key])(value)
        return cls(**merged)


# kind -> (base minutes, minutes per unit over the threshold)
REMEDIATION = {
    "long_function": (20, 0.25),
    "large_class": (60, 0.1),
    "complex_function": (10, 5),
    "cognitive_complexity": (5, 2),
    "deep_nesting": (15, 15),
    "too_many_parameters": (10, 10),
    "low_maintainability": (30, 2),
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: str
    path: str
    line: int
    symbol: str
    message: str
    minutes: int
    fingerprint: str
    rule: str = ""  # marker word or pylint message id


def fingerprint(path: str, symbol: str, kind: str, text: str) -> str:
    normalized = " ".join(text.lower().split())
    return hashlib.sha1(f"{path}\0{symbol}\0{kind}\0{normalized}".encode(), usedforsecurity=False).hexdigest()


def severity_for(ratio: float) -> str:
    return CRITICAL if ratio >= 3 else HIGH if ratio >= 2 else MEDIUM


def minutes_for(kind: str, over: float) -> int:
    base, per_unit = REMEDIATION[kind]
    return int(base + math.ceil(max(over, 0) * per_unit))


def _symbol_at(report: "FileReport", line: int) -> str:
    """Innermost function or class holding `line` ('' at module level)."""
    best = ""
    best_span = None
    for block in report.blocks:
        if block.line <= line <= block.end_line and (best_span is None or block.length < best_span):
            best, best_span = block.qualname, block.length
    return best


def marker_findings(report: "FileReport") -> list[tuple]:
    found = []
    for comment in report.comments:
        match = _MARKER.search(comment.text)
        if not match:
            continue
        word, text = match.group(1), match.group(2).strip()
        severity, minutes = MARKERS[word]
        symbol = _symbol_at(report, comment.line)
        found.append((word.lower(), severity, comment.line, symbol, f"{word}: {text}" if text else word, minutes, word))
    return found


def structural_findings(report: "FileReport", limits: Thresholds) -> list[tuple]:
    found = []

    def over(kind, value, limit, block, what):
        if value > limit:
            found.append(
                (
                    kind,
                    severity_for(value / limit),
                    block.line,
                    block.qualname,
                    what,
                    minutes_for(kind, value - limit),
                    "",
                )
            )

    for block in report.blocks:
        if block.kind == "class":
            over("large_class", block.length, limits.class_length, block, f"class is {block.length} lines long")
            continue
        over("long_function", block.length, limits.function_length, block, f"function is {block.length} lines long")
        over(
            "complex_function", block.complexity, limits.complexity, block, f"cyclomatic complexity {block.complexity}"
        )
        over(
            "cognitive_complexity", block.cognitive, limits.cognitive, block, f"cognitive complexity {block.cognitive}"
        )
        over("deep_nesting", block.max_nesting, limits.nesting, block, f"blocks nested {block.max_nesting} deep")
        over("too_many_parameters", block.parameters, limits.parameters, block, f"{block.parameters} parameters")
    if report.raw and report.raw.sloc and report.mi < limits.maintainability:
        ratio = limits.maintainability / max(report.mi, 0.01)
        found.append(
            (
                "low_maintainability",
                severity_for(ratio),
                1,
                "",
                f"maintainability index {report.mi:.1f}",
                minutes_for("low_maintainability", limits.maintainability - report.mi),
                "",
            )
        )
    return found


def findings_for(report: "FileReport", limits: Thresholds) -> list[Finding]:
    """Debt of one analysed file. The message of structural items carries the measured value,
    so the fingerprint uses the kind alone as its text for those (the value changes)."""
    if report.error:
        return []
    findings: list[Finding] = []
    seen: Counter = Counter()
    for kind, severity, line, symbol, message, minutes, rule in marker_findings(report):
        key = fingerprint(report.path, symbol, kind, message)
        seen[key] += 1
        if seen[key] > 1:
            key = fingerprint(report.path, symbol, kind, f"{message}#{seen[key]}")
        findings.append(Finding(kind, severity, report.path, line, symbol, message, minutes, key, rule))
    for kind, severity, line, symbol, message, minutes, rule in structural_findings(report, limits):
        key = fingerprint(report.path, symbol, kind, "")
        seen[key] += 1
        if seen[key] > 1:  # two defs with one qualname (e.g. a property getter and setter)
            key = fingerprint(report.path, symbol, kind, f"#{seen[key]}")
        findings.append(Finding(kind, severity, report.path, line, symbol, message, minutes, key, rule))
    return findings
