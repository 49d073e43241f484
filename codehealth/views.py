"""Pages: repositories, a repository's overview (gate, totals, trends, worst spots, debt
breakdown), the debt list with filters, and a file's detail. "Scan now" is a POST that queues
the same task the API and admin queue; the overview polls the scan's status JSON until it is done."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from analytics.tracker import track_usage
from codehealth.filters import DebtFilter
from codehealth.imports import graph_json, scan_graph
from codehealth.models import (
    SEVERITY_RANK,
    CodeRepository,
    CodeScan,
    DebtItem,
    DebtKind,
    FileMetrics,
    FunctionMetrics,
    Severity,
    latest_scan,
)
from codehealth.scanning import IN_PROGRESS
from codehealth.tasks import scan_queue
from portal.access import viewer_required

SCAN_PERMISSION = "codehealth.scan_coderepository"
PAGE_SIZE = 50
SEVERITIES = sorted(Severity.values, key=lambda s: -SEVERITY_RANK[s])


@viewer_required
def index(request):
    last = CodeScan.objects.filter(repository=OuterRef("pk"), status=CodeScan.Status.SUCCEEDED).order_by("-id")
    repositories = list(CodeRepository.objects.annotate(last_scan_id=Subquery(last.values("id")[:1])))
    scans = CodeScan.objects.in_bulk([r.last_scan_id for r in repositories if r.last_scan_id])
    rows = [(r, scans.get(r.last_scan_id)) for r in repositories]
    return render(request, "codehealth/index.html", {"rows": rows})


@viewer_required
def repository_overview(request, pk: int):
    repository = get_object_or_404(CodeRepository, pk=pk)
    scan = latest_scan(repository)
    context = {
        "repository": repository,
        "scan": scan,
        "recent": CodeScan.objects.filter(repository=repository).order_by("-id")[:10],
        "can_scan": request.user.has_perm(SCAN_PERMISSION),
        "in_progress": CodeScan.objects.filter(repository=repository, status__in=IN_PROGRESS).order_by("-id").first(),
    }
    if scan is not None:
        files = FileMetrics.objects.filter(scan_files__scan_id=scan.files_scan_id)
        context["worst_files"] = files.order_by("-worst_complexity", "path")[:10]
        context["lowest_mi"] = files.filter(error="").order_by("mi", "path")[:10]
        context["broken_files"] = files.exclude(error="").order_by("path")[:20]
        context["worst_functions"] = (
            FunctionMetrics.objects.filter(file__scan_files__scan_id=scan.files_scan_id)
            .exclude(kind=FunctionMetrics.Kind.CLASS)
            .select_related("file")
            .order_by("-complexity", "-cognitive")[:10]
        )
    context.update(debt_breakdown(repository))
    return render(request, "codehealth/repository.html", context)


def debt_breakdown(repository) -> dict:
    """Open debt as a kind x severity table, with totals, from one grouped query."""
    rows = (
        DebtItem.objects.filter(repository=repository, status=DebtItem.Status.OPEN)
        .values("kind", "severity")
        .annotate(n=Count("id"), minutes=Sum("remediation_minutes"))
    )
    table: dict[str, dict[str, int]] = {}
    total_minutes = 0
    for row in rows:
        table.setdefault(row["kind"], {})[row["severity"]] = row["n"]
        total_minutes += row["minutes"] or 0
    labels = dict(DebtKind.choices)
    breakdown = [
        (kind, labels.get(kind, kind), [cells.get(s, 0) for s in SEVERITIES], sum(cells.values()))
        for kind, cells in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return {"breakdown": breakdown, "severities": SEVERITIES, "debt_minutes": total_minutes}


@require_POST
@viewer_required
@track_usage("codehealth.scan_now")  # people who may open pages: what they try, refused or not
def scan_now(request, pk: int):
    if not request.user.has_perm(SCAN_PERMISSION):
        raise PermissionDenied("Your role does not allow this.")
    repository = get_object_or_404(CodeRepository, pk=pk)
    with transaction.atomic():
        scan, created = scan_queue(repository=repository, trigger=CodeScan.Trigger.ADMIN)
    state = "queued" if created else f"is already {scan.status}"
    messages.success(request, f"Scan #{scan.pk} {state}; this page updates when it has finished.")
    return redirect("codehealth:repository", pk=repository.pk)


@never_cache
@viewer_required
def scan_status(request, pk: int, scan_pk: int):
    """What the overview polls while a scan is queued or running (JSON)."""
    scan = get_object_or_404(CodeScan, pk=scan_pk, repository_id=pk)
    started = scan.started_at
    end = scan.finished_at or timezone.now()
    return JsonResponse(
        {
            "id": scan.pk,
            "status": scan.status,
            "done": scan.status not in IN_PROGRESS,
            "queued_at": scan.queued_at.isoformat(),
            "started_at": started.isoformat() if started else None,
            "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
            "seconds": round((end - started).total_seconds(), 1) if started else None,
            "files": scan.files,
            "gate": scan.gate,
            "error": scan.error,
        }
    )


@viewer_required
def debt_list(request, pk: int):
    repository = get_object_or_404(CodeRepository, pk=pk)
    data = request.GET.copy()
    data.setdefault("status", DebtItem.Status.OPEN)
    filtered = DebtFilter(data, queryset=DebtItem.objects.filter(repository=repository))
    filtered.form.fields.pop("repository", None)  # the page is already about one repository
    for name in ("severity", "kind"):  # a handful of choices: checkboxes, not a multi-select box
        field = filtered.form.fields[name]
        field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
    items = filtered.qs if filtered.is_valid() else DebtItem.objects.none()
    page = Paginator(items.order_by("path", "line"), PAGE_SIZE).get_page(request.GET.get("page"))
    scan = latest_scan(repository)
    files = (
        dict(
            FileMetrics.objects.filter(
                scan_files__scan_id=scan.files_scan_id, path__in={i.path for i in page}
            ).values_list("path", "id")
        )
        if scan
        else {}
    )
    query = data.copy()
    query.pop("page", None)
    return render(
        request,
        "codehealth/debt.html",
        {
            "repository": repository,
            "filter": filtered,
            "page": page,
            "rows": [(item, files.get(item.path)) for item in page],
            "query": query.urlencode(),
        },
    )


@viewer_required
def file_detail(request, pk: int, file_pk: int):
    repository = get_object_or_404(CodeRepository, pk=pk)
    file = get_object_or_404(FileMetrics, pk=file_pk, repository=repository)
    return render(
        request,
        "codehealth/file.html",
        {
            "repository": repository,
            "file": file,
            "blocks": file.blocks.order_by("line"),
            "debt": DebtItem.objects.filter(
                repository=repository, path=file.path, status=DebtItem.Status.OPEN
            ).order_by("line"),
        },
    )


@viewer_required
def imports_page(request, pk: int):
    repository = get_object_or_404(CodeRepository, pk=pk)
    scan = latest_scan(repository)
    graph = graph_json(scan_graph(scan)) if scan is not None else None
    return render(request, "codehealth/imports.html", {"repository": repository, "scan": scan, "graph": graph})
