"""`manage.py codehealth scan` / `history`: gate verdicts as exit codes, JSON, errors."""

import json
import os
import pty
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from codehealth.models import CodeRepository, CodeScan, QualityGate
from tests.support import ROOT, manage, separate_database


def branches(n: int) -> str:
    """A function of cyclomatic complexity n + 1."""
    return "def f(a):\n" + "".join(f"    if a == {i}:\n        return {i}\n" for i in range(n)) + "    return -1\n"


COMPLEX = branches(12)


def scan(*args) -> tuple[dict, int]:
    out = StringIO()
    try:
        call_command("codehealth", "scan", *args, "--json", "--workers=1", stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return json.loads(out.getvalue()), code


@pytest.mark.django_db
def test_gate_passes_then_fails_on_new_high_debt(tree):
    root = tree({"ok.py": "def f(a):\n    return a\n"})
    QualityGate.objects.create(name="default", max_new_debt=0, new_debt_severity="medium")
    first, code = scan(str(root), "--repo", "web")
    assert (code, first["gate"], first["files"]) == (0, "passed", 1)

    (root / "bad.py").write_text(COMPLEX)  # cyclomatic 13 -> medium debt
    second, code = scan(str(root), "--repo", "web")
    assert code == 1
    assert second["gate"] == "failed"
    assert any("new debt items of severity medium" in r for r in second["gate_reasons"])
    assert second["new_debt"] == 1


@pytest.mark.django_db
def test_each_gate_condition_can_fail(tree):
    root = tree({"bad.py": COMPLEX})
    gate = QualityGate.objects.create(name="strict", max_new_debt=None, min_average_mi=99.9, max_function_complexity=5)
    CodeRepository.objects.create(name="strict-repo", path=str(root.resolve()), gate=gate)
    result, code = scan(str(root), "--repo", "strict-repo")
    assert code == 1
    reasons = " | ".join(result["gate_reasons"])
    assert "average maintainability index" in reasons
    assert "worst cyclomatic complexity 13 is above 5" in reasons


@pytest.mark.django_db
def test_bad_paths_are_command_line_errors(tmp_path):
    with pytest.raises(CommandError, match="no such directory"):
        call_command("codehealth", "scan", str(tmp_path / "missing"))
    (tmp_path / "file.py").write_text("x = 1\n")
    with pytest.raises(CommandError, match="not a directory"):
        call_command("codehealth", "scan", str(tmp_path / "file.py"))
    with pytest.raises(CommandError, match="not a usable git repository"):
        call_command("codehealth", "history", str(tmp_path), "--commits", "2")


@pytest.mark.django_db
def test_plain_output_has_a_summary_table_and_no_progress_bar(tree):
    root = tree({"a.py": "# TODO: later\nx = 1\n"})
    out = StringIO()
    call_command("codehealth", "scan", str(root), "--workers=1", stdout=out)
    text = out.getvalue()
    assert "average MI" in text and "Quality gate: PASSED" in text
    assert "TODO: later" in text  # the new-debt table
    assert "\x1b[" not in text  # no terminal control codes off a terminal
    assert not set("│┃─━┏┗╭╰") & set(text)  # plain aligned text in a log, no box drawing
    lines = text.splitlines()
    assert lines[1].startswith("  files ") and lines[1].endswith("(1 analysed, 0 reused, 0 failed)")
    assert len({len(line) for line in lines[1:12]}) == 1  # eleven summary rows, values aligned right
    assert CodeScan.objects.get().trigger == CodeScan.Trigger.COMMAND


@pytest.mark.slow
@pytest.mark.django_db
def test_real_subprocess_exit_codes(tmp_path):
    src = tmp_path / "proj"
    src.mkdir()
    (src / "ok.py").write_text("def f(a):\n    return a\n")
    with separate_database(tmp_path) as env:
        ok = manage("codehealth", "scan", str(src), "--repo", "proj", env=env)
        assert ok.returncode == 0, ok.stderr
        assert "Quality gate: PASSED" in ok.stdout
        (src / "bad.py").write_text(branches(30))  # cyclomatic 31: critical
        failed = manage("codehealth", "scan", str(src), "--repo", "proj", "--json", env=env)
        assert failed.returncode == 1, failed.stderr
        assert json.loads(failed.stdout)["gate"] == "failed"
        missing = manage("codehealth", "scan", str(tmp_path / "nope"), env=env)
        assert missing.returncode == 2
        assert "no such directory" in missing.stderr


def test_command_help_lists_both_actions():
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "codehealth", "--help"], capture_output=True, text=True, check=False
    )
    assert "scan" in out.stdout and "history" in out.stdout


@pytest.mark.slow
@pytest.mark.django_db
def test_progress_bar_only_on_a_terminal(tmp_path):
    """The same scan in a pseudo-terminal shows rich's progress bar; piped, it does not."""
    src = tmp_path / "proj"
    src.mkdir()
    for i in range(6):
        (src / f"m{i}.py").write_text(f"def f{i}(a):\n    return a\n")
    with separate_database(tmp_path) as env:
        env = {**env, "COLUMNS": "100", "TERM": "xterm"}
        piped = manage("codehealth", "scan", str(src), "--workers=1", env=env)
        assert piped.returncode == 0 and "6/6" not in piped.stdout
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "codehealth", "scan", str(src), "--workers=1", "--repo", "on-a-tty"],
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
        os.close(master)
        shown = b"".join(chunks).decode(errors="replace")
        assert "analyse" in shown and "6/6" in shown  # the bar: stage name and done/total
        assert "Quality gate: PASSED" in shown
