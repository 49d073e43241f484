from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import Schedule, Success

from portal.models import Service


@login_required
def home(request):
    services = Service.objects.annotate(key_count=Count("keys")).order_by("name")
    # The heartbeat schedule makes this at most a minute old while workers run.
    last_task_at = Success.objects.order_by("-stopped").values_list("stopped", flat=True).first()
    return render(
        request,
        "portal/home.html",
        {
            "services": services,
            "schedule_count": Schedule.objects.count(),
            "last_task_at": last_task_at,
            "last_task_recent": last_task_at is not None and timezone.now() - last_task_at < timedelta(minutes=1),
        },
    )


@require_GET
@never_cache
def health_live(request):
    """Liveness of this process only: no database, so a slow DB does not get us restarted."""
    return JsonResponse({"status": "ok"})
