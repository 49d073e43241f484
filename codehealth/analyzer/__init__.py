"""The code analyzer. Framework-free: nothing here imports Django, so it can be tested and
benchmarked alone. Entry points: `analyze_source` (one file), `analyze_sources` (many, in
worker processes), `findings_for` (debt of a report)."""

from codehealth.analyzer.debt import Finding, Thresholds, findings_for
from codehealth.analyzer.source import Block, FileReport, analyze_source
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
    "Block",
    "FileReport",
    "Finding",
    "SourceFile",
    "Thresholds",
    "analyze_source",
    "analyze_sources",
    "findings_for",
    "python_files",
    "read_files",
    "read_tree",
    "stat_tree",
]
