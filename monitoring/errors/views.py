"""Pages: the error-group list (filters, sparklines) and a group's detail (stack, tags, events,
activity, status buttons, merge). Every action is a POST calling the one lifecycle function."""

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitoring.errors.lifecycle import (
    TransitionNotAllowed,
    group_ignore,
    group_merge,
    group_resolve,
    group_unresolve,
)
from monitoring.errors.models import ErrorGroup, ErrorGroupHour, GroupStatus, Level
from monitoring.errors.store import hour_of
from portal.access import viewer_required
from portal.models import Service

STATUS_PERMISSION = "errors.change_status_errorgroup"
TRANSITIONS = {"resolve": group_resolve, "ignore": group_ignore, "unresolve": group_unresolve}
DONE = {"resolve": "resolved", "ignore": "ignored", "unresolve": "reopened"}
SORTS = {"last_seen": ("-last_seen", "-id"), "count": ("-times_seen", "-id"), "first_seen": ("-first_seen", "-id")}
PAGE_SIZE = 50
MAX_SEARCH = 200  # characters of the search box used
SPARK_HOURS = 24
DETAIL_HOURS = 14 * 24
TAG_SAMPLE = 1000  # the tags breakdown reads the group's latest events, this many at most
TOP_TAG_VALUES = 5
EVENTS_SHOWN = 50


def groups_filtered(params) -> tuple[object, dict]:
    """The list's queryset and the filters as read (unknown values are ignored, as on other lists)."""
    groups = ErrorGroup.objects.filter(merged_into__isnull=True)
    chosen = {
        "status": params.get("status", GroupStatus.UNRESOLVED),
        "level": params.get("level", ""),
        "service": params.get("service", ""),
        "release": params.get("release", "")[:200],
        "q": params.get("q", "")[:MAX_SEARCH].strip(),
        "sort": params.get("sort", "last_seen") if params.get("sort") in SORTS else "last_seen",
    }
    if chosen["status"] in GroupStatus.values:
        groups = groups.filter(status=chosen["status"])
    else:
        chosen["status"] = "all"
    if chosen["level"] in Level.values:
        groups = groups.filter(level=chosen["level"])
    if chosen["service"]:
        groups = groups.filter(service__slug=chosen["service"])
    if chosen["release"]:
        groups = groups.filter(Q(first_release=chosen["release"]) | Q(last_release=chosen["release"]))
    if chosen["q"]:
        groups = groups.filter(Q(title__icontains=chosen["q"]) | Q(culprit__icontains=chosen["q"]))
    return groups.order_by(*SORTS[chosen["sort"]]), chosen


def sparklines(group_ids: list[int], *, hours: int, now: datetime) -> dict[int, list[int]]:
    """Counts per hour (oldest first, zeros filled) for each group: one query for the whole page."""
    start = hour_of(now) - timedelta(hours=hours - 1)
    rows = ErrorGroupHour.objects.filter(group_id__in=group_ids, hour__gte=start).values_list(
        "group_id", "hour", "count"
    )
    series: dict[int, list[int]] = defaultdict(lambda: [0] * hours)
    for group_id, hour, count in rows:
        index = int((hour - start).total_seconds() // 3600)
        if 0 <= index < hours:
            series[group_id][index] += count
    return {pk: series[pk] for pk in group_ids}


def svg_points(counts: list[int], *, width: int, height: int) -> str:
    """A polyline's points for an inline SVG sparkline (no script needed)."""
    top = max(counts) or 1
    step = width / max(len(counts) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (n / top) * (height - 2):.1f}" for i, n in enumerate(counts))


@viewer_required
def group_list(request):
    now = timezone.now()
    groups, chosen = groups_filtered(request.GET)
    page = Paginator(groups.select_related("service"), PAGE_SIZE).get_page(request.GET.get("page"))
    lines = sparklines([g.pk for g in page], hours=SPARK_HOURS, now=now)
    rows = [
        {"group": g, "points": svg_points(lines[g.pk], width=120, height=24), "day": sum(lines[g.pk])} for g in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": rows,
        "chosen": chosen,
        "query": query.urlencode(),
        "statuses": [*GroupStatus.values, "all"],
        "levels": Level.values,
        "sorts": list(SORTS),
        "services": Service.objects.order_by("name"),
    }
    return render(request, "errors/group_list.html", context)


def _tags_breakdown(group: ErrorGroup) -> list[tuple[str, int, list[tuple[str, int, int]]]]:
    """(key, events with it, [(value, count, percent)]) for the top values of each tag key."""
    sample = list(group.events.order_by("-time", "-id").values_list("tags", flat=True)[:TAG_SAMPLE])
    per_key: dict[str, Counter] = defaultdict(Counter)
    for tags in sample:
        for key, value in (tags or {}).items():
            per_key[key][str(value)] += 1
    out = []
    for key in sorted(per_key):
        total = sum(per_key[key].values())
        top = [(v, n, round(100 * n / total)) for v, n in per_key[key].most_common(TOP_TAG_VALUES)]
        out.append((key, total, top))
    return out


def _stack(event) -> list[dict]:
    """The chain outermost first (the exception that was raised, then its causes), each stack
    innermost frame first, in-app frames flagged so the page shows them open and the rest folded."""
    if event is None:
        return []
    shown = []
    for exc in reversed(event.exception or []):
        frames = list(reversed((exc.get("stacktrace") or {}).get("frames") or []))
        for frame in frames:
            lineno = frame.get("lineno") or 0
            pre = frame.get("pre_context") or []
            frame["lines"] = [
                *[(lineno - len(pre) + i, text, False) for i, text in enumerate(pre)],
                (lineno, frame.get("context_line") or "", True),
                *[(lineno + 1 + i, text, False) for i, text in enumerate(frame.get("post_context") or [])],
            ]
        in_app = [f for f in frames if f.get("in_app")]
        shown.append({**exc, "frames": frames, "in_app_count": len(in_app), "has_in_app": bool(in_app)})
    return shown


@viewer_required
def group_detail(request, pk: int):
    group = get_object_or_404(ErrorGroup.objects.select_related("service", "merged_into"), pk=pk)
    now = timezone.now()
    latest = group.events.order_by("-time", "-id").first()
    counts = sparklines([group.pk], hours=DETAIL_HOURS, now=now)[group.pk]
    context = {
        "group": group,
        "latest": latest,
        "stack": _stack(latest),
        "tags": _tags_breakdown(group),
        "events": list(group.events.order_by("-time", "-id")[:EVENTS_SHOWN]),
        "activity": list(group.activity.select_related("actor").order_by("-created_at", "-id")[:100]),
        "merged_from": list(group.merged_from.order_by("-id")[:20]),
        "points": svg_points(counts, width=600, height=60),
        "last_day": sum(counts[-24:]),
        "can_act": request.user.has_perm(STATUS_PERMISSION),
    }
    return render(request, "errors/group_detail.html", context)


def _require_perm(request) -> None:
    if not request.user.has_perm(STATUS_PERMISSION):
        raise PermissionDenied("Your role does not allow this.")


@require_POST
@viewer_required
def group_transition(request, pk: int, action: str):
    _require_perm(request)
    group = get_object_or_404(ErrorGroup, pk=pk)
    try:
        TRANSITIONS[action](group=group, by=request.user, via="page", reason=request.POST.get("reason", "")[:1000])
        messages.success(request, f"Error group #{group.pk} {DONE[action]}.")
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    return redirect("errors:detail", pk=group.pk)


@require_POST
@viewer_required
def group_merge_view(request, pk: int):
    _require_perm(request)
    source = get_object_or_404(ErrorGroup, pk=pk)
    raw = request.POST.get("target", "").strip().lstrip("#")
    target = ErrorGroup.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
    if target is None:
        messages.error(request, "target: give the number of an existing error group.")
        return redirect("errors:detail", pk=source.pk)
    try:
        group_merge(source=source, target=target, by=request.user, via="page")
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
        return redirect("errors:detail", pk=source.pk)
    messages.success(request, f"Error group #{source.pk} merged into #{target.pk}.")
    return redirect("errors:detail", pk=target.pk)
