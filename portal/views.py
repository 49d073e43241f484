from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.overview import overview_build, workers_state
from portal.roles import user_role
from reporting.dashboard import RANGES, RangeError, alert_ages, request_figures, span_of, task_figures
from reporting.dashboard_tiles import debt_figures, error_figures, feature_figures, maintenance_figures

REFRESH_SECONDS = 60


@login_required
def home(request):
    """The overview: what is wrong right now, then the services, the workers and the figures of
    the chosen range (`?range=`). People without a role see only the note asking for one."""
    if user_role(request.user) is None:
        return render(request, "portal/home.html", {})
    now = timezone.now()
    try:
        span = span_of(request.GET.get("range"), now=now)
    except RangeError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    workers = workers_state(now=now)
    context = {
        "overview": overview_build(),
        "workers": workers,
        "last_task_recent": workers.last_task_at is not None and now - workers.last_task_at < timedelta(minutes=1),
        "span": span,
        "ranges": list(RANGES),
        "refresh_seconds": REFRESH_SECONDS,
        "ages": alert_ages(span),
        "tasks": task_figures(span),
        "requests": request_figures(span),
        "errors": error_figures(span),
        "debt": debt_figures(span),
        "features": feature_figures(span),
        "maintenance": maintenance_figures(span),
    }
    return render(request, "portal/home.html", context)


@require_GET
@never_cache
def health_live(request):
    """Liveness of this process only: no database, so a slow DB does not get us restarted."""
    return JsonResponse({"status": "ok"})
