"""`manage.py bench import` / `bench compare`: a file pytest-benchmark really wrote, the plain JSON
form, bad input naming the field, and the exit code CI relies on."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reporting.benchmarks.models import MAX_SAMPLES, Benchmark, BenchmarkRun

BENCH_TEST = """
def test_sorting(benchmark):
    benchmark.pedantic(sorted, args=(list(range(300, 0, -1)),), rounds=12, iterations=20)

def test_joining(benchmark):
    benchmark.group = "strings"
    benchmark.pedantic("-".join, args=(["a"] * 200,), rounds=8, iterations=20)
"""


# No Django plugin and no project configuration in the inner run: it is a plain pytest suite.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:django", "-p", "no:cacheprovider", "-c", "pytest.ini"]


def pytest_benchmark_file(tmp_path) -> str:
    """Runs a tiny benchmark suite in a subprocess and returns the JSON it wrote."""
    (tmp_path / "test_tiny.py").write_text(BENCH_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [*PYTEST, "test_tiny.py", f"--benchmark-json={out}", "--benchmark-save-data"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return str(out)


def plain(tmp_path, name: str, samples, *, branch="main", commit="c1", hours_ago=0) -> str:
    when = datetime(2026, 11, 1, 12, tzinfo=UTC) - timedelta(hours=hours_ago)
    body = {
        "commit": commit,
        "branch": branch,
        "machine": "ci-1",
        "time": when.isoformat(),
        "benchmarks": [{"name": "parse", "group": "core", "unit": "ms", "samples": list(samples)}],
    }
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return str(path)


def timings(seed, centre, n=40):
    return (centre * np.random.default_rng(seed).lognormal(0, 0.03, n)).tolist()


@pytest.mark.slow
@pytest.mark.django_db
def test_it_imports_a_file_pytest_benchmark_wrote(tmp_path, capsys):
    path = pytest_benchmark_file(tmp_path)
    call_command("bench", "import", path, "--branch", "main", "--commit", "abc123")
    runs = {run.benchmark.name: run for run in BenchmarkRun.objects.select_related("benchmark")}
    assert set(runs) == {"test_tiny.py::test_sorting", "test_tiny.py::test_joining"}
    sorting, joining = runs["test_tiny.py::test_sorting"], runs["test_tiny.py::test_joining"]
    assert (sorting.count, joining.count) == (12, 8)
    assert joining.benchmark.group == "strings"
    assert (sorting.branch, sorting.commit, sorting.source) == ("main", "abc123", "pytest-benchmark")
    written = json.loads((tmp_path / "bench.json").read_text())["benchmarks"]
    data = next(b for b in written if b["name"] == "test_sorting")["stats"]
    assert sorting.sample_values() == data["data"]
    assert sorting.median == pytest.approx(data["median"])
    assert sorting.verdict == "no_baseline"
    # The same file again: now there is a baseline (the first import), and nothing changed.
    call_command("bench", "import", path, "--branch", "main", "--commit", "abc124")
    assert BenchmarkRun.objects.filter(commit="abc124", verdict="unchanged").count() == 2
    assert "test_tiny.py::test_sorting: median" in capsys.readouterr().out


@pytest.mark.django_db
def test_compare_exits_non_zero_on_a_regression(tmp_path, capsys):
    for i in range(3):
        call_command("bench", "import", plain(tmp_path, f"b{i}.json", timings(i, 100.0), hours_ago=3 - i))
    call_command("bench", "compare", "--branch", "main")  # the last of equals: exit 0
    slow = plain(tmp_path, "slow.json", timings(9, 112.0), commit="c2")
    with pytest.raises(SystemExit) as exit_info:
        call_command("bench", "compare", slow)
    assert exit_info.value.code == 1
    run = BenchmarkRun.objects.get(commit="c2")
    assert run.verdict == "regression"
    assert 9 < run.change_percent < 15
    assert "core/parse: median" in capsys.readouterr().out
    # Another branch has no baseline of its own: no regression there.
    call_command("bench", "import", plain(tmp_path, "f.json", timings(9, 112.0), branch="feature", commit="c3"))
    assert BenchmarkRun.objects.get(commit="c3").verdict == "no_baseline"


@pytest.mark.django_db
def test_a_pinned_baseline_wins_over_the_branch_history(tmp_path):
    call_command("bench", "import", plain(tmp_path, "old.json", timings(1, 150.0), commit="old", hours_ago=5))
    call_command("bench", "import", plain(tmp_path, "mid.json", timings(2, 100.0), commit="mid", hours_ago=2))
    bench = Benchmark.objects.get()
    call_command("bench", "import", plain(tmp_path, "new.json", timings(3, 112.0), commit="new"))
    # Against the last runs of the branch pooled (150 and 100, two humps) nothing is certain...
    assert BenchmarkRun.objects.get(commit="new").verdict == "unchanged"
    # ...against the pinned run of 100 it is 12 % slower.
    bench.baseline = BenchmarkRun.objects.get(commit="mid")
    bench.save()
    with pytest.raises(SystemExit):
        call_command("bench", "compare", "--commit", "new")
    assert BenchmarkRun.objects.get(commit="new").verdict == "regression"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"benchmarks": []}, "benchmarks"),
        ({"benchmarks": [{"samples": [1.0]}]}, "benchmarks[0].name"),
        ({"benchmarks": [{"name": "x", "samples": [1.0, "a"]}]}, "benchmarks[0].samples"),
        ({"benchmarks": [{"name": "x", "samples": [1.0] * (MAX_SAMPLES + 1)}]}, "benchmarks[0].samples"),
        ({"benchmarks": [{"name": "x", "samples": [1e300]}]}, "benchmarks[0].samples"),
        ({"benchmarks": [{"name": "x", "samples": [], "lower_is_better": "no"}]}, "benchmarks[0].lower_is_better"),
        ({"time": "yesterday", "benchmarks": [{"name": "x", "samples": []}]}, "time"),
        ({"machine_info": {}, "benchmarks": [{"name": "x"}]}, "benchmarks[0].stats"),
    ],
)
@pytest.mark.django_db
def test_bad_files_name_the_field(tmp_path, body, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    with pytest.raises(CommandError) as error:
        call_command("bench", "import", str(path))
    assert str(error.value).startswith(f"{field}: ")
    assert not BenchmarkRun.objects.exists()


@pytest.mark.django_db
def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"file: .* is not a file"):
        call_command("bench", "import", str(tmp_path / "nothing.json"))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CommandError, match="file: not JSON"):
        call_command("bench", "import", str(tmp_path / "broken.json"))
