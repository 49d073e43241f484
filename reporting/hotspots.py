"""Hotspots and dead features, gathered from the apps that know them.

- complexity: code health's last scan of a repository (FileMetrics.complexity per file);
- changes: `git log` of the repository's directory over the last N days (reporting.hotspot_rank);
- runtime: for the portal's own code only, request monitoring's figures of the portal's own
  service, each route joined to the module of its view by walking the portal's URL conf. For other
  services the portal has no URL conf to walk: their routes cannot be tied to modules, so their
  modules rank by complexity x changes alone (impact 1).

Dead features: feature names of analytics' usage events last used more than N days ago. Their
debt uses this mapping: a feature's name up to its first dot is a top-level package of the code
("codehealth.scan_now" -> "codehealth/"), and the debt is the open code-health debt (minutes to
fix) of the files under it, in every repository.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from django.db.models import Max, Q, Sum
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from analytics.models import UsageEvent
from codehealth.models import CodeRepository, DebtItem, FileMetrics, latest_scan
from monitoring.hosts import portal_service
from monitoring.request_stats import request_stats
from monitoring.requests import route_of
from reporting.hotspot_rank import GitError, Runtime, change_counts, module_path, rank

DEFAULT_DAYS = 90
DEFAULT_UNUSED_DAYS = 30
MAX_UNUSED_DAYS = 365
MAX_HOTSPOTS = 200  # rows answered; the ranking itself covers every scanned file
MAX_DEAD_FEATURES = 200
RUNTIME_RANGE = "7d"


def _view_module(callback) -> str:
    for attr in ("view_class", "cls"):  # Django class-based views, DRF viewsets
        owner = getattr(callback, attr, None)
        if owner is not None:
            return owner.__module__
    return getattr(callback, "__module__", "") or ""


def _join(prefix: str, part: str) -> str:
    # As Django's URLResolver joins nested routes: an inner regex loses its leading "^".
    return prefix + (part[1:] if part.startswith("^") else part)


def routes_to_modules(patterns=None, prefix: str = "") -> dict[str, str]:
    """Route (as the request middleware records it) -> dotted module of its view, for the portal."""
    found: dict[str, str] = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        joined = _join(prefix, str(entry.pattern))
        if isinstance(entry, URLResolver):
            found.update(routes_to_modules(entry.url_patterns, joined))
        elif isinstance(entry, URLPattern):
            found.setdefault(route_of(SimpleNamespace(route=joined)), _view_module(entry.callback))
    return found


def portal_runtime(*, now: datetime | None = None) -> dict[str, Runtime]:
    """Module path ("monitoring/views.py") -> requests, 5xx and worst p95 of its routes."""
    modules = routes_to_modules()
    stats = request_stats(service_id=portal_service().pk, range_name=RUNTIME_RANGE, now=now)
    merged: dict[str, Runtime] = {}
    for endpoint in stats.endpoints:
        dotted = modules.get(endpoint.route)
        if not dotted:
            continue
        path = module_path(dotted)
        old = merged.get(path, Runtime())
        p95 = max((p for p in (old.p95, endpoint.p95) if p is not None), default=None)
        merged[path] = Runtime(old.requests + endpoint.requests, old.errors + endpoint.errors, p95)
    return merged


def _match_runtime(paths, runtime: dict[str, Runtime]) -> dict[str, Runtime]:
    # A repository may be the project root ("monitoring/views.py") or hold it in a sub-directory.
    out = {}
    for path in paths:
        for module, figures in runtime.items():
            if path == module or path.endswith("/" + module):
                out[path] = figures
                break
    return out


@dataclass
class HotspotReport:
    repository: str | None
    days: int
    hotspots: list
    runtime_known: bool
    note: str = ""


def hotspots_report(
    *, repository: CodeRepository | None, days: int = DEFAULT_DAYS, runtime=None, now=None
) -> HotspotReport:
    """`runtime`: module path -> Runtime; None reads the portal's own request figures."""
    if repository is None:
        return HotspotReport(None, days, [], False, "No code repository is scanned yet.")
    scan = latest_scan(repository)
    if scan is None:
        return HotspotReport(repository.name, days, [], False, "The repository has no finished scan yet.")
    files = FileMetrics.objects.filter(scan_files__scan=scan).values_list("path", "complexity")
    complexity = dict(files)
    note = ""
    try:
        changes = change_counts(Path(repository.path), days=days, now=now)
    except GitError as exc:
        changes, note = {}, f"No change history: {exc}"
    if runtime is None:
        runtime = portal_runtime(now=now)
    matched = _match_runtime(complexity, runtime)
    spots = [asdict(s) for s in rank(complexity, changes, matched)[:MAX_HOTSPOTS]]
    return HotspotReport(repository.name, days, spots, bool(matched), note)


def dead_features(*, unused_days: int = DEFAULT_UNUSED_DAYS, now: datetime | None = None) -> list[dict]:
    """Features (service, name) used before but not in the last `unused_days` days, the longest
    unused first, with the open debt of the package their name points to."""
    cutoff = (now or timezone.now()) - timedelta(days=unused_days)
    rows = list(
        UsageEvent.objects.filter(kind=UsageEvent.Kind.FEATURE)
        .values("service__slug", "name")
        .annotate(last_used=Max("time"))
        .filter(last_used__lt=cutoff)
        .order_by("last_used", "name")[:MAX_DEAD_FEATURES]
    )
    prefixes = sorted({row["name"].split(".", 1)[0] for row in rows if "." in row["name"]})
    debt = {}
    if prefixes:
        # One query for every prefix: a conditional sum each.
        open_items = DebtItem.objects.filter(status=DebtItem.Status.OPEN)
        sums = open_items.aggregate(
            **{
                f"p{i}": Sum("remediation_minutes", filter=Q(path__startswith=prefix + "/"))
                for i, prefix in enumerate(prefixes)
            }
        )
        debt = {prefix: sums[f"p{i}"] for i, prefix in enumerate(prefixes)}
    return [
        {
            "service": row["service__slug"],
            "name": row["name"],
            "last_used": row["last_used"],
            "days_unused": (cutoff + timedelta(days=unused_days) - row["last_used"]).days,
            "package": row["name"].split(".", 1)[0] if "." in row["name"] else None,
            "debt_minutes": debt.get(row["name"].split(".", 1)[0]) if "." in row["name"] else None,
        }
        for row in rows
    ]
