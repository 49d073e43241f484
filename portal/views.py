from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.overview import overview_build, workers_state
from portal.roles import user_role


@login_required
def home(request):
    """The overview: what is wrong right now, then the services and the workers. People without
    a role see only the note asking for one."""
    if user_role(request.user) is None:
        return render(request, "portal/home.html", {})
    now = timezone.now()
    workers = workers_state(now=now)
    context = {
        "overview": overview_build(),
        "workers": workers,
        "last_task_recent": workers.last_task_at is not None and now - workers.last_task_at < timedelta(minutes=1),
    }
    return render(request, "portal/home.html", context)


@require_GET
@never_cache
def health_live(request):
    """Liveness of this process only: no database, so a slow DB does not get us restarted."""
    return JsonResponse({"status": "ok"})
