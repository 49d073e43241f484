"""Benchmarks and their runs.

A run keeps its samples as one packed little-endian float64 array (8 bytes a sample, at most
MAX_SAMPLES), not a row per sample: runs are read whole, never queried by sample."""

from array import array

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

MAX_SAMPLES = 10_000  # samples kept per run; a longer run is refused with a 400 naming `samples`
MAX_RUNS_IN_BASELINE = 50  # "the last N runs of the branch" is at most this many
MAX_MIN_CHANGE_PERCENT = 1000.0

name_validator = RegexValidator(r"^[^\x00-\x1f]+$", "No control characters.")


def samples_pack(values) -> bytes:
    packed = array("d", values)
    if packed.itemsize != 8:  # pragma: no cover - every CPython platform has 8-byte doubles
        raise RuntimeError("float64 arrays needed")
    if array("H", [1]).tobytes() != b"\x01\x00":  # big-endian machine: store little-endian anyway
        packed.byteswap()
    return packed.tobytes()


def samples_unpack(blob: bytes) -> list[float]:
    values = array("d")
    values.frombytes(bytes(blob))
    if array("H", [1]).tobytes() != b"\x01\x00":
        values.byteswap()
    return values.tolist()


class Benchmark(models.Model):
    name = models.CharField(max_length=300, validators=[name_validator])
    group = models.CharField(max_length=200, blank=True, default="", validators=[name_validator])
    unit = models.CharField(max_length=20, default="s", help_text="Unit of the samples, e.g. s, ms, ops.")
    lower_is_better = models.BooleanField(default=True, help_text="Off for throughputs (higher is better).")
    baseline = models.ForeignKey(
        "BenchmarkRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A pinned run to compare with; empty: the last runs of the same branch.",
    )
    baseline_runs = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RUNS_IN_BASELINE)],
        help_text=f"Without a pinned run: how many earlier runs of the branch (1-{MAX_RUNS_IN_BASELINE}).",
    )
    min_change_percent = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_MIN_CHANGE_PERCENT)],
        help_text="A change smaller than this is never a regression, however certain.",
    )

    class Meta:
        ordering = ["group", "name"]
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="benchmark_unique_group_name")]

    def __str__(self):
        return f"{self.group}/{self.name}" if self.group else self.name


class BenchmarkRun(models.Model):
    class Source(models.TextChoices):
        PYTEST_BENCHMARK = "pytest-benchmark", "pytest-benchmark JSON"
        JSON = "json", "plain JSON"

    class Verdict(models.TextChoices):
        NO_BASELINE = "no_baseline", "no baseline"
        NOT_ENOUGH = "not_enough_data", "not enough data"
        UNCHANGED = "unchanged", "unchanged"
        IMPROVEMENT = "improvement", "improvement"
        REGRESSION = "regression", "regression"

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="runs")
    samples = models.BinaryField(default=b"", help_text=f"Packed float64, at most {MAX_SAMPLES}.")
    count = models.PositiveIntegerField(default=0)
    minimum = models.FloatField(null=True)
    maximum = models.FloatField(null=True)
    mean = models.FloatField(null=True)
    median = models.FloatField(null=True)
    stddev = models.FloatField(null=True)
    commit = models.CharField(max_length=64, blank=True, default="", validators=[name_validator])
    branch = models.CharField(max_length=200, blank=True, default="", validators=[name_validator])
    machine = models.CharField(max_length=200, blank=True, default="", validators=[name_validator])
    ran_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    # The comparison made when the run arrived (stored on arrival: a list of benchmarks would
    # otherwise re-run a bootstrap per row).
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.NO_BASELINE)
    change_percent = models.FloatField(null=True, help_text="Median change against the baseline, in %.")

    class Meta:
        ordering = ["-ran_at", "-id"]
        indexes = [
            # The branch baseline: a benchmark's last runs on one branch.
            models.Index(fields=["benchmark", "branch", "-ran_at"], name="benchrun_bench_branch_time"),
            # The list page's last run of each benchmark and the detail page's runs, on every branch.
            models.Index(fields=["benchmark", "-ran_at", "-id"], name="benchrun_bench_time"),
        ]

    def __str__(self):
        return f"{self.benchmark} @ {self.commit[:12] or self.ran_at.date().isoformat()}"

    def sample_values(self) -> list[float]:
        return samples_unpack(self.samples)
