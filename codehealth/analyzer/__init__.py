"""The code analyzer. Framework-free: nothing here imports Django, so it can be tested and
benchmarked alone. Entry points: `analyze_sources` (many files, in worker processes),
`findings_for` (debt of a report), and `codehealth.analyzer.source.analyze_source` (one file) —
not imported here: the analysis (radon) loads only when something is analysed, so the portal and
an unchanged re-scan start without it."""

from codehealth.analyzer.debt import Finding, Thresholds, findings_for
from codehealth.analyzer.tree import (
    DEFAULT_EXCLUDES,
    SourceFile,
    analyze_sources,
    python_files,
    read_files,
    read_tree,
    stat_tree,
)

__all__ = [
    "DEFAULT_EXCLUDES",
    "Finding",
    "SourceFile",
    "Thresholds",
    "analyze_sources",
    "findings_for",
    "python_files",
    "read_files",
    "read_tree",
    "stat_tree",
]
