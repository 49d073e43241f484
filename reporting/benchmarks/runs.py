"""Importing benchmark runs and comparing them with their baseline.

Two input forms, told apart by their keys:

- pytest-benchmark's `--benchmark-json` file (`machine_info`, `commit_info`, `benchmarks[].stats`).
  Samples are `stats.data`, written only with `--benchmark-save-data`; without it a run keeps its
  summary figures and cannot be compared ("not enough data").
- plain JSON: `{"commit", "branch", "machine", "time", "benchmarks": [{"name", "group", "unit",
  "lower_is_better", "samples": [...]}]}`.

`branch`/`commit` given to the command or the API win over those in the file (CI knows them better
than pytest-benchmark, which reads them from the checkout).
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reporting.benchmarks import stats
from reporting.benchmarks.models import (
    MAX_SAMPLES,
    Benchmark,
    BenchmarkRun,
    samples_pack,
)

MAX_BENCHMARKS_PER_IMPORT = 500
MAX_SAMPLE_VALUE = 1e12  # bigger is a unit mistake, not a timing


class PayloadError(ValueError):
    """Bad input, naming the field (`benchmarks[3].samples`)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class RunInput:
    name: str
    group: str = ""
    unit: str = "s"
    lower_is_better: bool = True
    samples: list[float] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # summary stats when there are no samples


def _text(value, where: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadError(where, "Must be a string.")
    value = value.strip()
    if required and not value:
        raise PayloadError(where, "This field is required.")
    if len(value) > max_length:
        raise PayloadError(where, f"At most {max_length} characters.")
    if any(ord(c) < 32 for c in value):
        raise PayloadError(where, "No control characters.")
    return value


def _samples(values, where: str) -> list[float]:
    if not isinstance(values, list):
        raise PayloadError(where, "Must be a list of numbers.")
    if len(values) > MAX_SAMPLES:
        raise PayloadError(where, f"At most {MAX_SAMPLES} samples per run.")
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise PayloadError(where, "Samples must be finite numbers.")
        if abs(value) > MAX_SAMPLE_VALUE:
            raise PayloadError(where, f"Samples are at most {MAX_SAMPLE_VALUE:g} in size.")
        out.append(float(value))
    return out


def _when(value, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise PayloadError(where, "An ISO 8601 date and time.")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


@dataclass
class Payload:
    source: str
    runs: list[RunInput]
    commit: str = ""
    branch: str = ""
    machine: str = ""
    ran_at: datetime | None = None


def payload_parse(data) -> Payload:
    if not isinstance(data, dict):
        raise PayloadError("non_field_errors", "A JSON object is expected.")
    items = data.get("benchmarks")
    if not isinstance(items, list) or not items:
        raise PayloadError("benchmarks", "A non-empty list is expected.")
    if len(items) > MAX_BENCHMARKS_PER_IMPORT:
        raise PayloadError("benchmarks", f"At most {MAX_BENCHMARKS_PER_IMPORT} benchmarks per import.")
    if "machine_info" in data or "commit_info" in data:
        return _pytest_benchmark(data, items)
    runs = []
    for i, item in enumerate(items):
        where = f"benchmarks[{i}]"
        if not isinstance(item, dict):
            raise PayloadError(where, "An object is expected.")
        lower = item.get("lower_is_better", True)
        if not isinstance(lower, bool):
            raise PayloadError(f"{where}.lower_is_better", "Must be true or false.")
        runs.append(
            RunInput(
                name=_text(item.get("name"), f"{where}.name", 300, required=True),
                group=_text(item.get("group"), f"{where}.group", 200),
                unit=_text(item.get("unit"), f"{where}.unit", 20) or "s",
                lower_is_better=lower,
                samples=_samples(item.get("samples"), f"{where}.samples"),
            )
        )
    return Payload(
        source=BenchmarkRun.Source.JSON,
        runs=runs,
        commit=_text(data.get("commit"), "commit", 64),
        branch=_text(data.get("branch"), "branch", 200),
        machine=_text(data.get("machine"), "machine", 200),
        ran_at=_when(data.get("time"), "time"),
    )


def _pytest_benchmark(data: dict, items: list) -> Payload:
    commit_info = data.get("commit_info") or {}
    machine_info = data.get("machine_info") or {}
    if not isinstance(commit_info, dict) or not isinstance(machine_info, dict):
        raise PayloadError("commit_info", "An object is expected.")
    runs = []
    for i, item in enumerate(items):
        where = f"benchmarks[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("stats"), dict):
            raise PayloadError(f"{where}.stats", "An object is expected.")
        figures = item["stats"]
        samples = _samples(figures.get("data", []), f"{where}.stats.data")
        kept = {}
        for key in ("min", "max", "mean", "median", "stddev", "rounds"):
            value = figures.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                kept[key] = float(value)
        runs.append(
            RunInput(
                name=_text(item.get("fullname") or item.get("name"), f"{where}.fullname", 300, required=True),
                group=_text(item.get("group"), f"{where}.group", 200),
                unit="s",  # pytest-benchmark always records seconds per round
                samples=samples,
                figures=kept,
            )
        )
    commit = commit_info.get("id") or ""
    branch = commit_info.get("branch") or ""
    return Payload(
        source=BenchmarkRun.Source.PYTEST_BENCHMARK,
        runs=runs,
        commit="" if commit == "unversioned" else _text(commit, "commit_info.id", 64),
        branch="" if branch == "(unknown)" else _text(branch, "commit_info.branch", 200),
        machine=_text(machine_info.get("node"), "machine_info.node", 200),
        ran_at=_when(data.get("datetime"), "datetime"),
    )


def baseline_samples(run: BenchmarkRun) -> list[float]:
    """The pinned run's samples, or the pooled samples of the benchmark's last runs on the same
    branch before this one (at most MAX_SAMPLES, the newest first)."""
    bench = run.benchmark
    if bench.baseline_id and bench.baseline_id != run.id:
        return bench.baseline.sample_values()
    earlier = (
        BenchmarkRun.objects.filter(benchmark=bench, branch=run.branch, ran_at__lte=run.ran_at, count__gt=0)
        .exclude(id=run.id)
        .order_by("-ran_at", "-id")
        .only("samples")[: bench.baseline_runs]
    )
    pooled: list[float] = []
    for other in earlier:
        pooled.extend(other.sample_values())
        if len(pooled) >= MAX_SAMPLES:
            return pooled[:MAX_SAMPLES]
    return pooled


def run_compare(run: BenchmarkRun) -> stats.Comparison | None:
    """None when there is no baseline at all."""
    base = baseline_samples(run)
    if not base:
        return None
    bench = run.benchmark
    return stats.compare(
        run.sample_values(),
        base,
        lower_is_better=bench.lower_is_better,
        min_change_percent=bench.min_change_percent,
    )


def runs_import(*, data, branch: str | None = None, commit: str | None = None, now=None) -> list[BenchmarkRun]:
    """Store every benchmark of one payload as a run, each compared with its baseline on arrival."""
    payload = payload_parse(data)
    branch = _text(branch, "branch", 200) if branch else payload.branch
    commit = _text(commit, "commit", 64) if commit else payload.commit
    ran_at = payload.ran_at or now or timezone.now()
    created = []
    with transaction.atomic():
        for item in payload.runs:
            bench, _ = Benchmark.objects.get_or_create(
                group=item.group, name=item.name, defaults={"unit": item.unit, "lower_is_better": item.lower_is_better}
            )
            figures = stats.summary(item.samples)
            if not item.samples and item.figures:
                figures.update(
                    count=0,
                    minimum=item.figures.get("min"),
                    maximum=item.figures.get("max"),
                    mean=item.figures.get("mean"),
                    median=item.figures.get("median"),
                    stddev=item.figures.get("stddev"),
                )
            run = BenchmarkRun.objects.create(
                benchmark=bench,
                samples=samples_pack(item.samples),
                commit=commit,
                branch=branch,
                machine=payload.machine,
                ran_at=ran_at,
                source=payload.source,
                **figures,
            )
            result = run_compare(run)
            if result is None:
                run.verdict = BenchmarkRun.Verdict.NO_BASELINE
            else:
                run.verdict, run.change_percent = result.verdict, result.change_percent
            run.save(update_fields=["verdict", "change_percent"])
            created.append(run)
    return created
