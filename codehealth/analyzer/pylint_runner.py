"""pylint as a subprocess: JSON output (json2, which carries the score), a hard time limit,
an argument list (never a shell string). The repository's own pylint configuration applies
because pylint runs with the repository as its working directory."""

import json
import subprocess
import sys
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


def pylint_run(root: Path, paths: list[str], *, timeout: float, jobs: int = 1) -> PylintResult:
    if not paths:
        return PylintResult(score=10.0)
    command = [sys.executable, "-m", "pylint", "--output-format=json2", f"--jobs={jobs}", "--persistent=n", *paths]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return PylintResult(error=f"pylint timed out after {timeout:g} s")
    # pylint's exit status is a bit mask of message categories; 32 means it could not run.
    if done.returncode & 32 or not done.stdout.strip():
        return PylintResult(error=f"pylint failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        return PylintResult(error=f"pylint output is not JSON: {exc}")
    return PylintResult(score=data.get("statistics", {}).get("score"), findings=findings_from(data.get("messages", [])))


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
