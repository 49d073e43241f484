"""Pages: benchmarks with their last run and its verdict; one benchmark's runs and its chart of
medians over commits (Chart.js JSON through django-chartjs)."""

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from portal.access import viewer_required
from portal.charts import PortalChartView
from reporting.benchmarks.models import Benchmark, BenchmarkRun

RUNS_SHOWN = 50
CHART_POINTS = 100


@viewer_required
def benchmark_list(request):
    last = BenchmarkRun.objects.filter(benchmark=OuterRef("pk")).order_by("-ran_at", "-id")
    benchmarks = list(Benchmark.objects.annotate(last_run_id=Subquery(last.values("id")[:1])))
    runs = BenchmarkRun.objects.defer("samples").in_bulk([b.last_run_id for b in benchmarks if b.last_run_id])
    rows = [(b, runs.get(b.last_run_id)) for b in benchmarks]
    regressions = sum(1 for _, run in rows if run and run.verdict == BenchmarkRun.Verdict.REGRESSION)
    return render(request, "benchmarks/list.html", {"rows": rows, "regressions": regressions})


@viewer_required
def benchmark_detail(request, pk: int):
    bench = get_object_or_404(Benchmark.objects.select_related("baseline"), pk=pk)
    runs = bench.runs.defer("samples").order_by("-ran_at", "-id")[:RUNS_SHOWN]
    return render(request, "benchmarks/detail.html", {"bench": bench, "runs": runs, "shown": RUNS_SHOWN})


class BenchmarkChart(PortalChartView):
    """Median and minimum of the last runs (of one branch when `?branch=` is given), oldest first,
    labelled by commit."""

    def get(self, request, *args, pk: int, **kwargs):
        bench = get_object_or_404(Benchmark, pk=pk)
        runs = bench.runs.defer("samples").order_by("-ran_at", "-id")
        branch = request.GET.get("branch")
        if branch:
            runs = runs.filter(branch=branch[:200])
        self.runs = list(reversed(runs[:CHART_POINTS]))
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        # Stored in UTC; people read TIME_ZONE.
        return [
            (r.commit[:7] + " " if r.commit else "") + f"{timezone.localtime(r.ran_at):%Y-%m-%d %H:%M}"
            for r in self.runs
        ]

    def get_providers(self):
        return ["median", "minimum"]

    def get_data(self):
        return [[r.median for r in self.runs], [r.minimum for r in self.runs]]
