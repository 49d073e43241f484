from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Performance benchmark runs (pytest-benchmark JSON or a plain JSON form), compared with a
    baseline. Its own app (label `benchmarks`) so its tables and migrations evolve apart from the
    report snapshots of `reporting`."""

    name = "reporting.benchmarks"
    label = "benchmarks"
    verbose_name = "Benchmarks"
    nav: list[tuple[str, str]] = [("Benchmarks", "reporting:benchmarks")]
    operator_permissions: tuple[str, ...] = ()
    setup_hook: str | None = None
