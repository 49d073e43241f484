"""Admin: benchmarks (pin a baseline run, set the minimum change and how many runs make the
branch baseline) and their runs, read-only (runs come from imports)."""

from django.contrib import admin

from reporting.benchmarks.models import Benchmark, BenchmarkRun


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "unit", "lower_is_better", "baseline", "baseline_runs", "min_change_percent"]
    list_filter = ["group", "lower_is_better"]
    search_fields = ["name", "group"]
    raw_id_fields = ["baseline"]


@admin.register(BenchmarkRun)
class BenchmarkRunAdmin(admin.ModelAdmin):
    list_display = ["benchmark", "ran_at", "commit", "branch", "count", "median", "verdict", "change_percent"]
    list_filter = ["verdict", "source", "branch"]
    list_select_related = ["benchmark"]
    search_fields = ["commit", "benchmark__name"]
    exclude = ["samples"]  # packed float64: the API shows them as numbers

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
