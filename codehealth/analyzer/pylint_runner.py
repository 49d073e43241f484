"""pylint as a subprocess: JSON output (json2, which carries the score), a hard time limit,
an argument list (never a shell string). The repository's own pylint configuration applies
because pylint runs with the repository as its working directory.

The files are named on the command line, which the OS limits in length. A tree too large for one
command line is linted in batches within the one time limit; pylint then reports each batch's
statement count (`--evaluation=statement`) and the score is computed over all batches with
pylint's default formula. Checks across files (duplicate-code, cyclic-import) only see a batch.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from codehealth.analyzer.debt import HIGH, LOW, MEDIUM, Finding, fingerprint

# pylint message type -> (severity, remediation minutes)
PYLINT_SEVERITY = {
    "fatal": (HIGH, 30),
    "error": (HIGH, 20),
    "warning": (MEDIUM, 10),
    "refactor": (MEDIUM, 10),
    "convention": (LOW, 2),
    "info": (LOW, 1),
}


@dataclass
class PylintResult:
    score: float | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""  # timeout, crash or unreadable output; the scan records it and goes on
    seconds: float = 0.0


# Characters of file names per command line: well below Linux's ARG_MAX (2 MB, shared with the
# environment) and Windows' 32,767-character command line.
ARGUMENT_BUDGET = 100_000 if os.name == "posix" else 24_000


class _Failed(Exception):
    pass


def batches(paths: list[str], budget: int) -> list[list[str]]:
    """`paths` cut into runs whose names (plus a separator each) fit in `budget` characters."""
    out: list[list[str]] = [[]]
    size = 0
    for path in paths:
        if out[-1] and size + len(path) + 1 > budget:
            out.append([])
            size = 0
        out[-1].append(path)
        size += len(path) + 1
    return out


def pylint_run(
    root: Path, paths: list[str], *, timeout: float, jobs: int = 1, budget: int = ARGUMENT_BUDGET
) -> PylintResult:
    if not paths:
        return PylintResult(score=10.0)
    runs = batches(paths, budget)
    deadline = time.monotonic() + timeout
    try:
        if len(runs) == 1:
            data = _lint(root, runs[0], jobs, timeout, [])
            return PylintResult(score=_statistics(data).get("score"), findings=findings_from(data["messages"]))
        messages, counts, statements = [], {}, 0
        for run in runs:
            data = _lint(root, run, jobs, deadline - time.monotonic(), ["--evaluation=statement"])
            messages += data["messages"]
            stats = _statistics(data)
            for kind, n in stats.get("messageTypeCount", {}).items():
                counts[kind] = counts.get(kind, 0) + n
            statements += stats.get("score") or 0
    except subprocess.TimeoutExpired:
        return PylintResult(error=f"pylint timed out after {timeout:g} s")
    except _Failed as exc:
        return PylintResult(error=str(exc))
    return PylintResult(score=default_score(counts, statements), findings=findings_from(messages))


def default_score(counts: dict[str, int], statements: int) -> float:
    """pylint's default `evaluation` expression over message counts of all batches."""
    if counts.get("fatal"):
        return 0.0
    if not statements:
        return 10.0
    weighted = 5 * counts.get("error", 0) + sum(counts.get(k, 0) for k in ("warning", "refactor", "convention"))
    return max(0.0, 10.0 - weighted / statements * 10)


def _lint(root: Path, paths: list[str], jobs: int, timeout: float, extra: list[str]) -> dict:
    if timeout <= 0:
        raise subprocess.TimeoutExpired("pylint", timeout)
    command = [
        sys.executable, "-m", "pylint", "--output-format=json2", f"--jobs={jobs}", "--persistent=n", *extra, *paths
    ]  # fmt: skip
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
    # pylint's exit status is a bit mask of message categories; 32 means it could not run.
    if done.returncode & 32 or not done.stdout.strip():
        raise _Failed(f"pylint failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise _Failed(f"pylint output is not JSON: {exc}") from exc
    data.setdefault("messages", [])
    return data


def _statistics(data: dict) -> dict:
    return data.get("statistics") or {}


def findings_from(messages: list[dict]) -> list[Finding]:
    findings = []
    seen: dict[str, int] = {}
    for msg in messages:
        severity, minutes = PYLINT_SEVERITY.get(msg.get("type", ""), (LOW, 2))
        path = Path(msg.get("path", "")).as_posix()
        symbol = msg.get("obj", "") or ""
        rule = msg.get("messageId", "")
        text = f"{rule} {msg.get('symbol', '')}: {msg.get('message', '')}"
        key = fingerprint(path, symbol, "pylint", text)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = fingerprint(path, symbol, "pylint", f"{text}#{seen[key]}")
        findings.append(Finding("pylint", severity, path, msg.get("line") or 1, symbol, text, minutes, key, rule))
    return findings
