from django.contrib import admin, messages
from django.db import transaction

from codehealth.models import CodeRepository, CodeScan, DebtItem, FileMetrics, FunctionMetrics, QualityGate
from codehealth.tasks import scan_queue


@admin.register(QualityGate)
class QualityGateAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "max_new_debt",
        "new_debt_severity",
        "min_average_mi",
        "max_function_complexity",
        "min_pylint_score",
    ]


@admin.register(CodeRepository)
class CodeRepositoryAdmin(admin.ModelAdmin):
    list_display = ["name", "path", "service", "pylint_enabled", "gate", "scan_every_hours", "next_scan_at"]
    # Nullable foreign keys: a bare select_related() would not follow them.
    list_select_related = ["service", "gate"]
    list_filter = ["pylint_enabled", "gate", "service"]
    autocomplete_fields = ["service"]
    search_fields = ["name", "path"]
    actions = ["scan_now"]

    @admin.action(description="Scan now (queued for the workers)")
    def scan_now(self, request, queryset):
        with transaction.atomic():
            created = [scan_queue(repository=repository, trigger=CodeScan.Trigger.ADMIN)[1] for repository in queryset]
        busy = f", {created.count(False)} already queued or running" if False in created else ""
        self.message_user(request, f"{created.count(True)} scan(s) queued{busy}.", messages.SUCCESS)


@admin.register(CodeScan)
class CodeScanAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "repository",
        "status",
        "trigger",
        "commit",
        "files",
        "average_mi",
        "debt_count",
        "new_debt",
        "gate",
        "queued_at",
    ]
    list_filter = ["status", "trigger", "gate", "repository"]
    search_fields = ["commit"]
    list_select_related = ["repository"]
    date_hierarchy = "queued_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False  # scans come from the command, the API, the schedule or the "scan now" action


@admin.register(FileMetrics)
class FileMetricsAdmin(admin.ModelAdmin):
    list_display = ["path", "repository", "sloc", "mi", "mi_rank", "worst_complexity", "debt_count", "error"]
    list_filter = ["repository", "mi_rank"]
    search_fields = ["path", "content_hash"]
    list_select_related = ["repository"]
    exclude = ["findings"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "findings"]

    def has_add_permission(self, request):
        return False


@admin.register(FunctionMetrics)
class FunctionMetricsAdmin(admin.ModelAdmin):
    list_display = [
        "qualname",
        "kind",
        "file",
        "line",
        "complexity",
        "rank",
        "cognitive",
        "max_nesting",
        "parameters",
        "length",
    ]
    list_filter = ["kind", "rank", "file__repository"]
    search_fields = ["qualname", "file__path"]
    list_select_related = ["file"]
    raw_id_fields = ["file"]

    def has_add_permission(self, request):
        return False


@admin.register(DebtItem)
class DebtItemAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "severity",
        "status",
        "path",
        "line",
        "symbol",
        "message",
        "remediation_minutes",
        "repository",
    ]
    list_filter = ["status", "severity", "kind", "repository"]
    search_fields = ["path", "symbol", "message", "fingerprint"]
    list_select_related = ["repository"]
    raw_id_fields = ["first_seen_scan", "fixed_in_scan"]
    # The stored column is the last scan that compared the item; shown is the last that saw it.
    exclude = ["last_seen_scan"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_last_seen()

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "last_seen_scan"] + ["last_seen"]

    @admin.display(description="last seen scan")
    def last_seen(self, obj):
        return f"scan #{obj.last_seen}"

    def has_add_permission(self, request):
        return False  # debt is found by scans, not typed in
