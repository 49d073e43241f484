"""Hotspots and dead features, gathered from the apps that know them.

- complexity: code health's last scan of a repository (FileMetrics.complexity per file);
- changes: `git log` of the repository's directory over the last N days (reporting.hotspot_rank);
- runtime: request monitoring's figures of the service the repository is linked to
  (CodeRepository.service), each endpoint tied to a module of the repository:
  - the portal's own service: its URL conf is walked, each route joined to its view's module;
  - another service: the portal has no URL conf of theirs, so only endpoints whose route is a
    dotted Python path (what sentry-sdk sends with transaction_style="function_name", e.g.
    "shop.views.checkout") are tied, to the longest dotted prefix naming a scanned file; URL
    patterns ("/cart/<int:id>/") cannot be, and are counted as untied;
  - no linked service: the portal's own figures, as before services could be linked (they match
    only a repository holding the portal's code; elsewhere impact is 1).

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


@dataclass
class ServiceRuntime:
    """Module path -> figures, and how many of the service's endpoints were tied to a module."""

    modules: dict[str, Runtime]
    tied: int = 0
    untied: int = 0
    by_name: bool = False  # tied by dotted names (another service), not by the portal's URL conf


def _merge(merged: dict[str, Runtime], path: str, endpoint) -> None:
    old = merged.get(path, Runtime())
    p95 = max((p for p in (old.p95, endpoint.p95) if p is not None), default=None)
    merged[path] = Runtime(old.requests + endpoint.requests, old.errors + endpoint.errors, p95)


def _runtime(endpoints, module_of) -> ServiceRuntime:
    """Sum each endpoint's figures into the module `module_of(route)` names (None: untied)."""
    found = ServiceRuntime({})
    for endpoint in endpoints:
        path = module_of(endpoint.route)
        if path is None:
            found.untied += 1
            continue
        found.tied += 1
        _merge(found.modules, path, endpoint)
    return found


def portal_runtime(*, now: datetime | None = None, service_id: int | None = None, paths=None) -> ServiceRuntime:
    """The portal's own service: module path ("monitoring/views.py") -> requests, 5xx and worst
    p95 of its routes, each tied through the portal's URL conf (and, given the scanned `paths`,
    only to a module among them: "tied" always means tied to a file of the repository)."""
    modules = {route: module_path(dotted) for route, dotted in routes_to_modules().items() if dotted}
    if paths is not None:
        suffixes = _suffixes(paths)
        modules = {route: path for route, path in modules.items() if path in suffixes}
    service_id = portal_service().pk if service_id is None else service_id
    stats = request_stats(service_id=service_id, range_name=RUNTIME_RANGE, now=now)
    return _runtime(stats.endpoints, modules.get)


def _suffixes(paths) -> set[str]:
    # Every tail of a scanned path at a "/": what _match_runtime can match a module path against.
    out = set()
    for path in paths:
        parts = path.split("/")
        out.update("/".join(parts[i:]) for i in range(len(parts)))
    return out


def dotted_module(name: str, suffixes: set[str]) -> str | None:
    """`shop.views.CheckoutView.get` -> `shop/views.py` (or `shop/views/__init__.py`): the longest
    dotted prefix naming a scanned file. The full name is a function's, never a module's, so it is
    not tried. None for a URL pattern or a name matching no scanned file."""
    parts = name.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        return None
    for end in range(len(parts) - 1, 0, -1):
        module = module_path(".".join(parts[:end]))
        package = module[: -len(".py")] + "/__init__.py"
        for candidate in (module, package):
            if candidate in suffixes:
                return candidate
    return None


def named_runtime(*, service_id: int, paths, now: datetime | None = None) -> ServiceRuntime:
    """Another service: endpoints whose route is a dotted Python path tied to a scanned module."""
    suffixes = _suffixes(paths)
    stats = request_stats(service_id=service_id, range_name=RUNTIME_RANGE, now=now)
    found = _runtime(stats.endpoints, lambda route: dotted_module(route, suffixes))
    found.by_name = True
    return found


def repository_runtime(repository: CodeRepository, paths, *, now=None) -> ServiceRuntime:
    if repository.service_id is None:
        return portal_runtime(now=now, paths=paths)
    if repository.service_id == portal_service().pk:
        return portal_runtime(now=now, service_id=repository.service_id, paths=paths)
    return named_runtime(service_id=repository.service_id, paths=paths, now=now)


def _match_runtime(paths, runtime: dict[str, Runtime]) -> dict[str, Runtime]:
    # A repository may be the project root ("monitoring/views.py") or hold it in a sub-directory:
    # a module matches a path it is a "/"-tail of, the longest tail first. A lookup per tail, not
    # a scan of every module per path (5,000 files x 1,000 modules took 0.7 s that way).
    out = {}
    for path in paths:
        parts = path.split("/")
        for i in range(len(parts)):
            figures = runtime.get("/".join(parts[i:]))
            if figures is not None:
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
    service: str | None = None  # slug of the service whose request figures were read
    endpoints_tied: int = 0  # that service's endpoints (route, method) tied to a module
    endpoints_untied: int = 0  # ... and not: a URL pattern, or a name matching no scanned file


def _untied_note(service: str, untied: int, total: int) -> str:
    return (
        f"{untied} of {total} endpoints of {service} could not be tied to a module: only routes that are "
        'dotted Python paths of a scanned file (sentry-sdk\'s transaction_style="function_name", e.g. '
        "shop.views.checkout) can be; URL patterns cannot."
    )


def hotspots_report(
    *, repository: CodeRepository | None, days: int = DEFAULT_DAYS, runtime=None, now=None
) -> HotspotReport:
    """`runtime`: module path -> Runtime; None reads the request figures of the repository's
    service (the portal's own when none is linked)."""
    if repository is None:
        return HotspotReport(None, days, [], False, "No code repository is scanned yet.")
    service = repository.service.slug if repository.service_id else None
    scan = latest_scan(repository)
    if scan is None:
        return HotspotReport(repository.name, days, [], False, "The repository has no finished scan yet.", service)
    files = FileMetrics.objects.filter(scan_files__scan=scan).values_list("path", "complexity")
    complexity = dict(files)
    notes = []
    try:
        changes = change_counts(Path(repository.path), days=days, now=now)
    except GitError as exc:
        changes = {}
        notes.append(f"No change history: {exc}")
    found = ServiceRuntime(runtime) if runtime is not None else repository_runtime(repository, complexity, now=now)
    if found.by_name and found.untied:
        notes.append(_untied_note(service, found.untied, found.tied + found.untied))
    matched = _match_runtime(complexity, found.modules)
    spots = [asdict(s) for s in rank(complexity, changes, matched)[:MAX_HOTSPOTS]]
    return HotspotReport(
        repository.name, days, spots, bool(matched), " ".join(notes), service, found.tied, found.untied
    )


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
